# Turn a text file into a C string: cmake -DIN=file -DOUT=file.c -P embed.cmake
file(READ ${IN} text)
string(REPLACE "\\" "\\\\" text "${text}")
string(REPLACE "\"" "\\\"" text "${text}")
string(REPLACE "\n" "\\n\"\n\"" text "${text}")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\nconst char avo_agent__system_prompt[] =\n\"${text}\";\n")
