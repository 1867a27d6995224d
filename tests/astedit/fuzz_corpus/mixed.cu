#define A 1 // avo:knob 1 2
int x = R"a(})a";
// avo:region r
{ "}" }
// avo:end r
