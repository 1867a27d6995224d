/* A candidate: an operator's proposal made concrete ONCE - its edits (the full set,
 * relative to the original kernel), the source they give, that source's hash (its object
 * key) and the edit hash. Building one is the only libclang parse a proposal costs
 * (avo_astedit_apply validates by re-parsing); after that the candidate is passed as is
 * to the evaluator, the gate and the lineage, and nothing re-applies or re-stores it.
 *
 * The tune loop keeps the candidates it built in a small book keyed by edit hash, so an
 * operator that validates edits (apply) and then submits them (evaluate), or asks for the
 * base version's source, does not cause a second parse.
 *
 * Ownership: avo_candidate_new() gives the caller a candidate freed with
 * avo_candidate_free(). A book owns the candidates put in it; lookups borrow.
 */
#ifndef AVO_CANDIDATE_H
#define AVO_CANDIDATE_H

#include "avo_astedit.h"
#include "avo_cache.h"

typedef struct {
	char edit_hash[33];            /* avo_agent_edit_hash of the edits */
	char hash[AVO_CACHE_HEX];      /* XXH3-128 of the source: the variant's object key */
	char *source;                  /* the full variant source (NUL-terminated) */
	size_t len;
	avo_astedit_region_edit *regions; /* owned copies */
	size_t nregions;
	avo_astedit_knob_edit *knobs;
	size_t nknobs;
} avo_candidate;

/* Apply and validate the edits on the parsed original `u` (one libclang parse). On an
 * invalid edit returns < 0 and fills `err` (may be NULL; dispose it in either case). */
int avo_candidate_new(avo_candidate **out, avo_astedit_error *err, const avo_astedit_unit *u,
		      const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke,
		      size_t nke);
/* A candidate whose source is known already (the original, or a version read back from
 * the object store and checked against its hash): no parse. Takes a copy of `source`. */
int avo_candidate_known(avo_candidate **out, const char *source, size_t len,
			const avo_astedit_region_edit *re, size_t nre, const avo_astedit_knob_edit *ke,
			size_t nke);
void avo_candidate_free(avo_candidate *c);

/* The book: the last few candidates built, by edit hash, plus one pinned (the base). */
typedef struct {
	avo_candidate *slot[16];
	size_t next;                   /* round robin */
	avo_candidate *pinned;
} avo_candidate_book;

/* Borrowed, or NULL. */
avo_candidate *avo_candidate_book_find(const avo_candidate_book *b, const char *edit_hash);
/* Keep `c` (taking it); an older candidate may be dropped. */
void avo_candidate_book_put(avo_candidate_book *b, avo_candidate *c);
/* Take `c` out of the book (the caller owns it again); no-op when absent. */
void avo_candidate_book_take(avo_candidate_book *b, const avo_candidate *c);
/* Pin `c` (taking it) as the base version, replacing the previous pin. */
void avo_candidate_book_pin(avo_candidate_book *b, avo_candidate *c);
void avo_candidate_book_dispose(avo_candidate_book *b);

#endif
