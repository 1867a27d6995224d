// The dispatch table, checked without a GPU: avo_attention_kernel_for is host logic.
// Every shape the entry point promises (any b, hq a multiple of hkv, any s >= 1, head
// dim 64/128/256, causal or not) gets a kernel on every device from sm_80 on; what it
// refuses gets none; the Hopper kernel serves the 24 AVO configs on sm_90. Prints the
// table. Exit 0 when every rule holds, 1 otherwise.
#include <stdio.h>
#include <string.h>

#include "attention.h"

static int failures;

static const char *pick(int b, int hq, int hkv, int s, int d, int causal, int cc)
{
    static char dummy[16];
    avo_attention_params p = {dummy, dummy, dummy, dummy, b, hq, hkv, s, d, causal};
    return avo_attention_kernel_for(&p, cc);
}

static void expect(int ok, const char *what, int b, int hq, int hkv, int s, int d, int causal, int cc)
{
    if (!ok) {
        fprintf(stderr, "dispatch_check: %s: b=%d hq=%d hkv=%d s=%d d=%d causal=%d cc=%d\n", what, b, hq, hkv,
                s, d, causal, cc);
        failures++;
    }
}

int main(void)
{
    const int ccs[] = {75, 80, 86, 89, 90, 100, 120};
    const int seqs[] = {1, 7, 127, 128, 129, 512, 1000, 1024, 4000, 4096, 8000, 16384};
    const int dims[] = {64, 128, 256};
    printf("%-6s %-4s %-7s %-4s", "s", "d", "causal", "");
    for (size_t c = 0; c < sizeof ccs / sizeof *ccs; c++)
        printf(" sm_%-18d", ccs[c]);
    printf("\n");
    for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++)
        for (size_t j = 0; j < sizeof dims / sizeof *dims; j++)
            for (int causal = 0; causal < 2; causal++) {
                printf("%-6d %-4d %-7d %-4s", seqs[i], dims[j], causal, "");
                for (size_t c = 0; c < sizeof ccs / sizeof *ccs; c++) {
                    const int cc = ccs[c];
                    const char *k = pick(2, 32, 8, seqs[i], dims[j], causal, cc);
                    printf(" %-21s", k ? k : "-");
                    expect(cc < 80 ? k == NULL : k != NULL, cc < 80 ? "served below sm_80" : "not served", 2,
                           32, 8, seqs[i], dims[j], causal, cc);
                    expect(!k || cc == 90 || strncmp(k, "sm90", 4) != 0, "Hopper kernel off sm_90", 2, 32, 8,
                           seqs[i], dims[j], causal, cc);
                }
                printf("\n");
            }
    /* Refused: bad head dims, s < 1, hq not a multiple of hkv, null pointers. */
    expect(pick(1, 8, 8, 128, 96, 0, 90) == NULL, "d=96 served", 1, 8, 8, 128, 96, 0, 90);
    expect(pick(1, 8, 8, 0, 128, 0, 90) == NULL, "s=0 served", 1, 8, 8, 0, 128, 0, 90);
    expect(pick(1, 8, 3, 128, 128, 0, 90) == NULL, "hq %% hkv != 0 served", 1, 8, 3, 128, 128, 0, 90);
    expect(pick(1, 8, 8, 128, 128, 2, 90) == NULL, "causal=2 served", 1, 8, 8, 128, 128, 2, 90);
    avo_attention_params none = {NULL, NULL, NULL, NULL, 1, 8, 8, 128, 128, 0};
    expect(avo_attention_kernel_for(&none, 90) == NULL, "null pointers served", 1, 8, 8, 128, 128, 0, 90);
    expect(avo_attention_kernel_for(NULL, 90) == NULL, "null params served", 0, 0, 0, 0, 0, 0, 90);
    /* The AVO workload (d=128, s 4k-32k, MHA 16 heads and GQA 32/8) runs the Hopper kernel. */
    const int avo_s[] = {4096, 8192, 16384, 32768};
    for (size_t i = 0; i < 4; i++)
        for (int causal = 0; causal < 2; causal++) {
            const char *a = pick(1, 16, 16, avo_s[i], 128, causal, 90), *g = pick(1, 32, 8, avo_s[i], 128, causal, 90);
            expect(a && !strncmp(a, "sm90", 4), "AVO config (MHA) not on the Hopper kernel", 1, 16, 16, avo_s[i],
                   128, causal, 90);
            expect(g && !strncmp(g, "sm90", 4), "AVO config (GQA) not on the Hopper kernel", 1, 32, 8, avo_s[i],
                   128, causal, 90);
        }
    if (failures)
        fprintf(stderr, "dispatch_check: %d rule(s) broken\n", failures);
    else
        printf("dispatch_check: ok\n");
    return failures ? 1 : 0;
}
