/* Implemented by the evolution issue. */
typedef int avo_agent__placeholder;
