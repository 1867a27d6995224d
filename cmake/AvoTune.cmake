#[=======================================================================[.rst:
AvoTune
-------

Build the best known variant of a kernel instead of its original source.

This module works on its own (copy it into a project, or ``include()`` it from an
installed or fetched avo) and is included by ``avoConfig.cmake`` and by avo's own
``CMakeLists.txt``, so ``find_package(avo CONFIG)``, ``add_subdirectory(avo)`` and
``FetchContent_MakeAvailable(avo)`` all make :command:`avo_tune` available.

.. command:: avo_tune

  ::

    avo_tune(<target>
             KERNEL <file>
             HARNESS <file>
             [CONFIGS <config>...]
             [ARCH <arch>]
             [OPERATOR <knob|llm|command>]
             [BUDGET <time>]
             [EVALUATIONS <n>]
             [TOLERANCE <x>]
             [SHIPPED_DIR <dir>]
             [NAME <name>]
             [OBJECTIVE <ms|tflops>]
             [FLAGS <flag>...]
             [PARSE_FLAGS <flag>...]
             [LANGUAGE <CUDA|C|CXX>]
             [LINK_FLAGS <flag>...])

  ``<target>`` must already list ``KERNEL`` among its sources, and ``avo_tune()`` must be
  called in the directory that creates ``<target>``. In every mode but ``OFF`` it:

  * writes the tuning spec ``<build>/avo/<target>/avo.json`` (``<build>/avo/<target>/<NAME>/``
    when ``NAME`` is given). It carries the kernel, the harness, the compiler of the
    kernel's language, ``FLAGS`` followed by the target's ``COMPILE_OPTIONS`` (avo adds
    ``-O3`` when no ``-O`` is given), its ``INCLUDE_DIRECTORIES`` (usage requirements of
    linked targets included; the kernel's own directory always comes first), its
    ``COMPILE_DEFINITIONS``, and
    ``LINK_FLAGS`` followed by the target's plain link libraries (``m`` becomes ``-lm``;
    library targets become their files). The file is rewritten only when its content
    changes, so a no-op rebuild stays a no-op.
  * adds a custom command that runs ``avo apply`` to produce
    ``<build>/avo/<target>/<kernel file name>`` and replaces ``KERNEL`` with it in the
    target's sources. The command re-runs when the kernel, the harness, the spec or
    ``avo`` itself change, and when a shipped file or this kernel's slot in the local
    cache changes (through a depfile); its output is rewritten only when its content
    changes. Quoted ``#include`` of files next to the kernel keep working: the kernel's
    directory is added to the generated source's include path.
  * adds the targets ``avo-tune-<target>`` (tune this kernel now) and ``avo-tune`` (all of
    them). Tuning runs in the Ninja job pool ``avo_tune`` of depth one.

  ``KERNEL``, ``HARNESS``
    The kernel (``.cu``/``.cuh``: CUDA, ``.c``: C, ``.cpp``/``.cc``/``.cxx``: C++; a
    ``.h``/``.hpp`` header needs ``LANGUAGE``) and the harness that checks and times it
    (see avo's "Harness protocol"). Relative paths are relative to the current source
    directory. A header kernel is built as avo evaluates it: through a wrapper translation
    unit ``<build>/avo/<target>/avo_kernel_tu.<ext>`` that includes the generated header
    beside it, so the rest of the target calls the kernel through declarations. A kernel
    file that guards its own ``main()`` with ``#ifndef AVO_KERNEL_ONLY`` keeps it in the
    build; the spec defines ``AVO_KERNEL_ONLY`` so that the harness's ``main`` links.

  ``CONFIGS``
    Problem configurations, one argument each, holding the harness arguments as one
    string: ``"--n 64 --d 32"``. They are named ``c0``, ``c1``, ... in order; write
    ``"name: args"`` (``"small: --n 64 --d 32"``) to name one. At least one is required.

  ``ARCH``
    The GPU architecture for CUDA kernels (``sm_90a``). Default: of the target's
    ``CUDA_ARCHITECTURES`` (``90a`` becomes ``sm_90a``), the local GPU's when it is listed,
    else the highest; the choice is printed. Empty for C kernels, whose
    shipped files live under ``cpu/``.

  ``PARSE_FLAGS``
    Extra clang arguments for parsing the kernel (the spec's ``parse_flags``); the parse
    already keeps ``-std``, ``-I``, ``-isystem``, ``-include`` and ``-D`` of the flags.

  ``LANGUAGE``
    ``CUDA``, ``C`` or ``CXX`` when the kernel's extension does not say it.

  The spec's flags also hold ``CMAKE_<LANG>_FLAGS``, the target's ``COMPILE_OPTIONS`` as
  the kernel's language sees them (``$<$<COMPILE_LANGUAGE:CUDA>:...>`` included) and the
  ``-std`` its ``<LANG>_STANDARD`` or compile features (``cuda_std_17``) imply.

  ``OPERATOR``, ``BUDGET``, ``EVALUATIONS``, ``TOLERANCE``, ``OBJECTIVE``
    Written to the spec: the variation operator (default ``knob``), the tuning time
    budget (``90``, ``90s``, ``15m``, ``2h``) and evaluation budget (a run stops at the
    first one reached), the largest relative error allowed, and what fitness measures
    (``ms``, the default, or ``tflops``).

  ``SHIPPED_DIR``
    A directory of tuned files written by ``avo export``:
    ``<dir>/<arch or cpu>/<kernel file name>`` plus ``<kernel file name>.avo.json``. A
    shipped file whose manifest matches the current kernel and arch wins over the cache;
    a stale one is reported and ignored.

  ``NAME``
    The spec's name (default: ``<target>``); needed to tune two kernels of one target.

Modes (the cache variable ``AVO_MODE``):

``OFF``
  ``avo_tune()`` does nothing: the original kernel is built and avo need not be
  installed at all.

``CACHED`` (default)
  Build the best variant known (shipped file, local cache, remote cache) or the
  original. Never tunes during a normal build (``avo-tune-<target>`` still can).

``TUNE``
  Tune before compiling: each tuned target's generated source depends on an
  ``avo tune <spec> [--budget ${AVO_BUDGET}]`` step (the GPU for CUDA kernels, the CPU for
  C kernels), one tuning job at a time under Ninja.

Other cache variables: ``AVO_BUDGET`` (passed to ``avo tune --budget`` when not empty).
The cache location and the remote cache come from the environment of the build
(``AVO_CACHE_DIR``, ``AVO_CACHE_REMOTE``, ``AVO_CACHE_TOKEN``), as for the ``avo`` command.
#]=======================================================================]

include_guard(GLOBAL)
cmake_policy(PUSH)
cmake_policy(VERSION 3.20...3.31) # CMP0116: depfiles of custom commands are transformed

set(AVO_MODE "CACHED" CACHE STRING "avo_tune(): OFF (original sources), CACHED (best known variant), TUNE (tune before building)")
set_property(CACHE AVO_MODE PROPERTY STRINGS OFF CACHED TUNE)
set(AVO_BUDGET "" CACHE STRING "avo_tune(): time budget per kernel in TUNE mode (e.g. 15m); empty: the spec's")

# JSON string literal of `s`.
function(_avo_json_quote out s)
  string(REPLACE "\\" "\\\\" s "${s}")
  string(REPLACE "\"" "\\\"" s "${s}")
  string(REPLACE "\n" "\\n" s "${s}")
  string(REPLACE "\t" "\\t" s "${s}")
  set(${out} "\"${s}\"" PARENT_SCOPE)
endfunction()

# JSON array of the items of a CMake list, for values known at configure time.
function(_avo_json_array out)
  set(items "")
  foreach(item IN LISTS ARGN)
    _avo_json_quote(q "${item}")
    list(APPEND items "${q}")
  endforeach()
  list(JOIN items ", " joined)
  set(${out} "[${joined}]" PARENT_SCOPE)
endfunction()

# Items made ready for _avo_json_genex_array: JSON-escaped inside (no quotes around), and
# ',' and '>' hidden from the generator expressions they will sit in. Items that are
# generator expressions themselves are left alone.
function(_avo_json_escape_list out)
  set(items "")
  foreach(item IN LISTS ARGN)
    if(NOT item MATCHES "^\\$<")
      string(REPLACE "\\" "\\\\" item "${item}")
      string(REPLACE "\"" "\\\"" item "${item}")
      string(REPLACE ">" "$<ANGLE-R>" item "${item}")
      string(REPLACE "," "$<COMMA>" item "${item}")
    endif()
    list(APPEND items "${item}")
  endforeach()
  set(${out} "${items}" PARENT_SCOPE)
endfunction()

# JSON array whose items are only known at generate time: `list` may hold generator
# expressions. Empty items are dropped. Items must not contain '"' or '\' (there is no
# generator expression to escape them).
function(_avo_json_genex_array out list)
  set(nonempty "$<FILTER:${list},INCLUDE,.>")
  set(${out} "[$<$<NOT:$<STREQUAL:${nonempty},>>:\"$<JOIN:${nonempty},\"$<COMMA> \">\">]" PARENT_SCOPE)
endfunction()

# "90" / "90s" / "15m" / "2h" -> seconds.
function(_avo_seconds out text)
  if(text MATCHES "^([0-9]+(\\.[0-9]+)?)(s|m|h)?$")
    set(n "${CMAKE_MATCH_1}")
    if(CMAKE_MATCH_3 STREQUAL "m")
      math(EXPR n "${n} * 60")
    elseif(CMAKE_MATCH_3 STREQUAL "h")
      math(EXPR n "${n} * 3600")
    endif()
    set(${out} "${n}" PARENT_SCOPE)
  else()
    message(FATAL_ERROR "avo_tune: BUDGET \"${text}\" is not a time (90, 90s, 15m, 2h)")
  endif()
endfunction()

# avo::avo, from the package when this module was included on its own.
function(_avo_require_tool out)
  if(NOT TARGET avo::avo)
    find_package(avo CONFIG QUIET)
  endif()
  if(TARGET avo::avo)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

# The arch to tune for when ARCH is not given: of the target's CUDA_ARCHITECTURES, the one
# of the local GPU (nvidia-smi) when it is listed, else the highest; the choice is printed.
function(_avo_pick_arch out target)
  get_target_property(cuda_archs ${target} CUDA_ARCHITECTURES)
  if(NOT cuda_archs)
    set(cuda_archs "${CMAKE_CUDA_ARCHITECTURES}")
  endif()
  if(cuda_archs MATCHES "^(native|all|all-major)$" OR NOT cuda_archs)
    set(${out} "native" PARENT_SCOPE)
    message(STATUS "avo_tune(${target}): tuning for the local GPU (arch \"native\"; CUDA_ARCHITECTURES is \"${cuda_archs}\"; pass ARCH to choose)")
    return()
  endif()
  set(best "")
  set(best_num -1)
  set(listed "")
  foreach(a IN LISTS cuda_archs)
    if(NOT a MATCHES "^([0-9]+)([a-z]?)(-real|-virtual)?$")
      message(FATAL_ERROR "avo_tune(${target}): pass ARCH (e.g. sm_90a); CUDA_ARCHITECTURES holds \"${a}\"")
    endif()
    list(APPEND listed "${CMAKE_MATCH_1}${CMAKE_MATCH_2}")
    if(CMAKE_MATCH_1 GREATER best_num)
      set(best_num ${CMAKE_MATCH_1})
      set(best "${CMAKE_MATCH_1}${CMAKE_MATCH_2}")
    endif()
  endforeach()
  set(why "the highest of \"${cuda_archs}\"")
  find_program(AVO_NVIDIA_SMI nvidia-smi)
  mark_as_advanced(AVO_NVIDIA_SMI)
  if(AVO_NVIDIA_SMI)
    execute_process(COMMAND "${AVO_NVIDIA_SMI}" --query-gpu=compute_cap --format=csv,noheader
      OUTPUT_VARIABLE caps RESULT_VARIABLE smi_rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE TIMEOUT 10)
    if(smi_rc EQUAL 0 AND caps MATCHES "^([0-9]+)\\.([0-9]+)")
      set(local "${CMAKE_MATCH_1}${CMAKE_MATCH_2}")
      foreach(a IN LISTS listed)
        if(a MATCHES "^${local}[a-z]?$")
          set(best "${a}")
          set(why "the local GPU's, listed in \"${cuda_archs}\"")
          break()
        endif()
      endforeach()
    endif()
  endif()
  set(${out} "sm_${best}" PARENT_SCOPE)
  message(STATUS "avo_tune(${target}): tuning for sm_${best} (${why}; pass ARCH to choose)")
endfunction()

function(avo_tune target)
  set(one KERNEL HARNESS ARCH OPERATOR BUDGET EVALUATIONS TOLERANCE SHIPPED_DIR NAME OBJECTIVE LANGUAGE)
  set(multi CONFIGS FLAGS LINK_FLAGS PARSE_FLAGS)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "${one}" "${multi}")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "avo_tune(${target}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "avo_tune: no target named \"${target}\"")
  endif()
  foreach(req KERNEL HARNESS)
    if(NOT arg_${req})
      message(FATAL_ERROR "avo_tune(${target}): ${req} is required")
    endif()
  endforeach()
  if(NOT AVO_MODE MATCHES "^(OFF|CACHED|TUNE)$")
    message(FATAL_ERROR "avo_tune: AVO_MODE must be OFF, CACHED or TUNE, not \"${AVO_MODE}\"")
  endif()
  if(AVO_MODE STREQUAL "OFF")
    return()
  endif()
  _avo_require_tool(have_avo)
  if(NOT have_avo)
    if(AVO_MODE STREQUAL "TUNE")
      message(FATAL_ERROR "avo_tune(${target}): AVO_MODE is TUNE but avo was not found (set avo_DIR or CMAKE_PREFIX_PATH)")
    endif()
    message(WARNING "avo_tune(${target}): avo was not found; building the original ${arg_KERNEL} (set AVO_MODE=OFF to silence this)")
    return()
  endif()

  get_target_property(tgt_src_dir ${target} SOURCE_DIR)
  if(NOT tgt_src_dir STREQUAL CMAKE_CURRENT_SOURCE_DIR)
    message(FATAL_ERROR "avo_tune(${target}): call it in the directory that creates the target (${tgt_src_dir})")
  endif()

  get_filename_component(kernel "${arg_KERNEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_filename_component(harness "${arg_HARNESS}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  foreach(f "${kernel}" "${harness}")
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "avo_tune(${target}): ${f} does not exist")
    endif()
  endforeach()
  get_filename_component(kernel_name "${kernel}" NAME)
  get_filename_component(kernel_dir "${kernel}" DIRECTORY)
  get_filename_component(ext "${kernel}" LAST_EXT)

  # The language decides the compiler and whether an arch applies; a header (.cuh, .h,
  # .hpp) names it with LANGUAGE.
  set(spec_language "")
  if(arg_LANGUAGE)
    if(NOT arg_LANGUAGE MATCHES "^(CUDA|C|CXX)$")
      message(FATAL_ERROR "avo_tune(${target}): LANGUAGE must be CUDA, C or CXX")
    endif()
    set(lang ${arg_LANGUAGE})
    string(TOLOWER "${lang}" spec_language)
    string(REPLACE "cxx" "c++" spec_language "${spec_language}")
  elseif(ext MATCHES "^\\.(cu|cuh)$")
    set(lang CUDA)
  elseif(ext STREQUAL ".c")
    set(lang C)
  elseif(ext MATCHES "^\\.(cpp|cc|cxx)$")
    set(lang CXX)
  else()
    message(FATAL_ERROR "avo_tune(${target}): cannot tell the language of ${kernel_name} (.cu, .cuh, .c, .cpp); pass LANGUAGE")
  endif()
  # A header kernel is compiled through a wrapper translation unit, as `avo eval` does.
  set(is_header FALSE)
  if(ext MATCHES "^\\.(cuh|h|hh|hpp|hxx)$")
    set(is_header TRUE)
  endif()
  if(NOT CMAKE_${lang}_COMPILER)
    message(FATAL_ERROR "avo_tune(${target}): ${kernel_name} needs the ${lang} language enabled")
  endif()
  set(compiler "${CMAKE_${lang}_COMPILER}")
  set(arch "")
  if(lang STREQUAL "CUDA")
    set(arch "${arg_ARCH}")
    if(NOT arch)
      _avo_pick_arch(arch ${target})
    endif()
  elseif(arg_ARCH)
    message(FATAL_ERROR "avo_tune(${target}): ARCH applies to CUDA kernels only")
  endif()

  # Configs: "name: args" or just "args" (named c0, c1, ...).
  if(NOT arg_CONFIGS)
    message(FATAL_ERROR "avo_tune(${target}): CONFIGS needs at least one config")
  endif()
  set(configs_json "")
  set(i 0)
  foreach(config IN LISTS arg_CONFIGS)
    if(config MATCHES "^([A-Za-z0-9_][A-Za-z0-9_.+-]*):[ \t]*(.*)$")
      set(cname "${CMAKE_MATCH_1}")
      set(cargs "${CMAKE_MATCH_2}")
    else()
      set(cname "c${i}")
      set(cargs "${config}")
    endif()
    separate_arguments(cargs UNIX_COMMAND "${cargs}")
    _avo_json_quote(qname "${cname}")
    _avo_json_array(qargs ${cargs})
    list(APPEND configs_json "{\"name\": ${qname}, \"args\": ${qargs}}")
    math(EXPR i "${i} + 1")
  endforeach()
  list(JOIN configs_json ",\n    " configs_json)

  set(name "${target}")
  set(spec_dir "${CMAKE_BINARY_DIR}/avo/${target}")
  if(arg_NAME)
    set(name "${arg_NAME}")
    set(spec_dir "${spec_dir}/${arg_NAME}")
  endif()
  get_property(used GLOBAL PROPERTY _AVO_SPEC_DIRS)
  if(spec_dir IN_LIST used)
    message(FATAL_ERROR "avo_tune(${target}): called twice for one target; give each call a NAME")
  endif()
  set_property(GLOBAL APPEND PROPERTY _AVO_SPEC_DIRS "${spec_dir}")
  set(spec "${spec_dir}/avo.json")
  set(generated "${spec_dir}/${kernel_name}")

  # Replace the kernel in the target's sources with the generated file.
  get_target_property(sources ${target} SOURCES)
  set(new_sources "")
  set(found FALSE)
  foreach(src IN LISTS sources)
    if(NOT src MATCHES "\\$<")
      get_filename_component(abs "${src}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
      if(abs STREQUAL kernel)
        set(src "${generated}")
        set(found TRUE)
      endif()
    endif()
    list(APPEND new_sources "${src}")
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "avo_tune(${target}): ${arg_KERNEL} is not among the target's sources")
  endif()
  if(is_header)
    # The wrapper sits beside the generated header, so its quoted include finds the variant.
    set(ext_of_CUDA cu)
    set(ext_of_C c)
    set(ext_of_CXX cpp)
    set(wrapper "${spec_dir}/avo_kernel_tu.${ext_of_${lang}}")
    file(CONFIGURE OUTPUT "${wrapper}" CONTENT "#include \"${kernel_name}\"\n" @ONLY)
    list(APPEND new_sources "${wrapper}")
    set_source_files_properties("${generated}" PROPERTIES GENERATED TRUE HEADER_FILE_ONLY TRUE)
    set_source_files_properties("${wrapper}" PROPERTIES
      LANGUAGE ${lang}
      INCLUDE_DIRECTORIES "${kernel_dir}"
      OBJECT_DEPENDS "${generated}")
  else()
    set_source_files_properties("${generated}" PROPERTIES
      GENERATED TRUE
      LANGUAGE ${lang}
      INCLUDE_DIRECTORIES "${kernel_dir}")
  endif()
  set_property(TARGET ${target} PROPERTY SOURCES "${new_sources}")

  # Scalars of the spec, known now. CMAKE_<LANG>_FLAGS is what the build compiles with too.
  separate_arguments(lang_flags UNIX_COMMAND "${CMAKE_${lang}_FLAGS}")
  set(flags ${lang_flags} ${arg_FLAGS})
  set(parse_flags ${arg_PARSE_FLAGS})
  # A kernel that guards its own main() with AVO_KERNEL_ONLY (as samples need) is evaluated
  # with it defined, since the harness brings main; the build compiles the file as it is.
  set(kernel_only "")
  file(STRINGS "${kernel}" guard REGEX "^[ \t]*#[ \t]*if(ndef|[ \t]+!defined)[ \t(]*AVO_KERNEL_ONLY")
  if(guard)
    set(kernel_only "AVO_KERNEL_ONLY")
  endif()
  set(tolerance "")
  if(DEFINED arg_TOLERANCE)
    set(tolerance "\n  \"tolerance\": ${arg_TOLERANCE},")
  endif()
  set(objective "ms")
  if(arg_OBJECTIVE)
    if(NOT arg_OBJECTIVE MATCHES "^(ms|tflops)$")
      message(FATAL_ERROR "avo_tune(${target}): OBJECTIVE must be ms or tflops")
    endif()
    set(objective "${arg_OBJECTIVE}")
  endif()
  set(operator "knob")
  if(arg_OPERATOR)
    set(operator "${arg_OPERATOR}")
  endif()
  set(budget_items "")
  if(arg_BUDGET)
    _avo_seconds(seconds "${arg_BUDGET}")
    list(APPEND budget_items "\"seconds\": ${seconds}")
  endif()
  if(DEFINED arg_EVALUATIONS)
    if(NOT arg_EVALUATIONS MATCHES "^[1-9][0-9]*$")
      message(FATAL_ERROR "avo_tune(${target}): EVALUATIONS must be a positive integer")
    endif()
    list(APPEND budget_items "\"evaluations\": ${arg_EVALUATIONS}")
  endif()
  set(budget "")
  if(budget_items)
    list(JOIN budget_items ", " budget_items)
    set(budget "\n  \"budget\": {${budget_items}},")
  endif()
  set(shipped "")
  if(arg_SHIPPED_DIR)
    get_filename_component(shipped_dir "${arg_SHIPPED_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    _avo_json_quote(q "${shipped_dir}")
    set(shipped "\n  \"shipped_dir\": ${q},")
  endif()

  # Everything the deferred writer needs, as global properties named after an id.
  set(id "${target}")
  if(arg_NAME)
    set(id "${target}/${arg_NAME}")
  endif()
  foreach(v name kernel harness compiler arch flags configs_json tolerance objective operator
            budget shipped spec spec_dir kernel_dir lang parse_flags spec_language kernel_only)
    set_property(GLOBAL PROPERTY "_AVO_${id}_${v}" "${${v}}")
  endforeach()
  set_property(GLOBAL PROPERTY "_AVO_${id}_target" "${target}")
  set_property(GLOBAL PROPERTY "_AVO_${id}_link_flags" "${arg_LINK_FLAGS}")
  # Written at the end of the directory, when the target's link libraries are complete.
  cmake_language(EVAL CODE "cmake_language(DEFER CALL _avo_tune_write_spec [==[${id}]==])")

  # TUNE mode / the avo-tune targets: one tuning job at a time under Ninja.
  get_property(pools GLOBAL PROPERTY JOB_POOLS)
  if(NOT pools MATCHES "(^|;)avo_tune=")
    set_property(GLOBAL APPEND PROPERTY JOB_POOLS avo_tune=1)
  endif()
  set(tune_args "")
  if(AVO_BUDGET)
    set(tune_args --budget "${AVO_BUDGET}")
  endif()
  set(stamp "${spec_dir}/tune.stamp")
  add_custom_command(OUTPUT "${stamp}"
    COMMAND avo::avo tune "${spec}" --fresh-run ${tune_args}
    COMMAND "${CMAKE_COMMAND}" -E touch "${stamp}"
    DEPENDS "${kernel}" "${harness}" "${spec}" avo::avo
    JOB_POOL avo_tune
    COMMENT "avo: tuning ${kernel_name} for ${target}"
    VERBATIM)
  set(tune_target "avo-tune-${target}")
  if(arg_NAME)
    set(tune_target "avo-tune-${target}-${arg_NAME}")
  endif()
  add_custom_target(${tune_target} DEPENDS "${stamp}")
  if(NOT TARGET avo-tune)
    add_custom_target(avo-tune)
  endif()
  add_dependencies(avo-tune ${tune_target})

  set(apply_deps "${kernel}" "${harness}" "${spec}")
  if(AVO_MODE STREQUAL "TUNE")
    list(APPEND apply_deps "${stamp}")
  endif()
  # Without ninja's restat, an unchanged output older than its inputs would re-run apply
  # on every build: let apply touch it instead (one recompile, then quiet).
  set(touch "")
  if(NOT CMAKE_GENERATOR MATCHES "Ninja")
    set(touch --touch)
  endif()
  # avo::apply is `avo apply` in a binary without libclang (fast to start); older
  # packages have only avo::avo.
  if(TARGET avo::apply)
    set(apply_cmd avo::apply)
  else()
    set(apply_cmd avo::avo apply)
  endif()
  list(GET apply_cmd 0 apply_tool)
  list(APPEND apply_deps ${apply_tool})
  add_custom_command(OUTPUT "${generated}"
    COMMAND ${apply_cmd} "${spec}" -o "${generated}" --depfile "${generated}.d" ${touch}
    DEPENDS ${apply_deps}
    DEPFILE "${generated}.d"
    COMMENT "avo: best variant of ${kernel_name} for ${target}"
    VERBATIM)
endfunction()

# The JSON spec, through file(GENERATE) so generator expressions resolve the target's
# final include dirs, defines and options, and so the file changes only with its content.
function(_avo_tune_write_spec id)
  foreach(v target name kernel harness compiler arch flags configs_json tolerance objective
            operator budget shipped spec spec_dir kernel_dir link_flags lang parse_flags spec_language
            kernel_only)
    get_property(${v} GLOBAL PROPERTY "_AVO_${id}_${v}")
  endforeach()

  # Plain link libraries as flags; library targets as their files.
  get_target_property(libs ${target} LINK_LIBRARIES)
  if(NOT libs)
    set(libs "")
  endif()
  foreach(lib IN LISTS libs)
    if(lib MATCHES "\\$<|^::@")
      continue()
    elseif(TARGET ${lib})
      get_target_property(type ${lib} TYPE)
      if(type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY)$")
        get_target_property(imported ${lib} IMPORTED)
        get_target_property(loc ${lib} IMPORTED_LOCATION)
        if(NOT imported OR loc)
          list(APPEND link_flags "$<TARGET_LINKER_FILE:${lib}>")
        endif()
      endif()
    elseif(lib MATCHES "^-" OR IS_ABSOLUTE "${lib}")
      list(APPEND link_flags "${lib}")
    elseif(lib MATCHES "^[A-Za-z0-9_.+-]+$" AND NOT lib MATCHES "^(debug|optimized|general)$")
      list(APPEND link_flags "-l${lib}")
    endif()
  endforeach()

  foreach(v name kernel harness compiler arch objective operator)
    _avo_json_quote(q_${v} "${${v}}")
  endforeach()
  # What is known now is escaped now; what the target's properties hold is only known at
  # generate time and cannot be escaped there: say so rather than write a broken spec.
  _avo_json_escape_list(flags ${flags})
  _avo_json_escape_list(link_flags ${link_flags})
  _avo_json_escape_list(parse_flags ${parse_flags})
  _avo_json_quote(q_language "${spec_language}")
  foreach(prop COMPILE_OPTIONS COMPILE_DEFINITIONS INCLUDE_DIRECTORIES)
    get_target_property(val ${target} ${prop})
    if(val AND val MATCHES "[\"\\]")
      message(WARNING "avo_tune(${target}): ${prop} holds a '\"' or '\\', which the tuning spec cannot carry; avo.json will not parse (pass such values with FLAGS instead)")
    endif()
  endforeach()
  _avo_json_quote(q_source "${CMAKE_SOURCE_DIR}")
  _avo_json_quote(q_build "${CMAKE_BINARY_DIR}")
  _avo_json_quote(q_psource "${PROJECT_SOURCE_DIR}")
  _avo_json_quote(q_pbuild "${PROJECT_BINARY_DIR}")
  # The -std that the target's standard or compile features imply for the kernel's language.
  set(std_flag "")
  if(lang STREQUAL "C")
    set(std_prefix "-std=c")
  else()
    set(std_prefix "-std=c++")
  endif()
  string(TOLOWER "${lang}" lang_lower)
  set(feat "$<TARGET_PROPERTY:${target},COMPILE_FEATURES>")
  foreach(n 99 03 11 14 17 20 23 26)
    if(lang STREQUAL "C" AND NOT n MATCHES "^(99|11|17|23)$")
      continue()
    elseif(NOT lang STREQUAL "C" AND n STREQUAL "99")
      continue()
    endif()
    set(std_flag "$<IF:$<IN_LIST:${lang_lower}_std_${n},${feat}>,${std_prefix}${n},${std_flag}>")
  endforeach()
  set(std_prop "$<TARGET_PROPERTY:${target},${lang}_STANDARD>")
  set(std_flag "$<IF:$<BOOL:${std_prop}>,${std_prefix}${std_prop},${std_flag}>")
  _avo_json_genex_array(j_flags "${flags};$<TARGET_PROPERTY:${target},COMPILE_OPTIONS>;${std_flag}")
  _avo_json_genex_array(j_parse "${parse_flags}")
  _avo_json_genex_array(j_incs "$<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>")
  _avo_json_genex_array(j_defs "$<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>;${kernel_only}")
  _avo_json_genex_array(j_links "${link_flags}")

  file(GENERATE OUTPUT "${spec}" CONTENT "{
  \"name\": ${q_name},
  \"kernel\": ${q_kernel},
  \"harness\": ${q_harness},
  \"compiler\": ${q_compiler},
  \"arch\": ${q_arch},
  \"flags\": ${j_flags},
  \"include_dirs\": ${j_incs},
  \"defines\": ${j_defs},
  \"link_flags\": ${j_links},
  \"parse_flags\": ${j_parse},
  \"language\": ${q_language},
  \"configs\": [
    ${configs_json}
  ],${tolerance}${budget}${shipped}
  \"objective\": ${q_objective},
  \"operator\": ${q_operator},
  \"_key_roots\": {\"source\": ${q_source}, \"build\": ${q_build}, \"project_source\": ${q_psource}, \"project_build\": ${q_pbuild}}
}
" TARGET ${target} CONDITION $<COMPILE_LANGUAGE:${lang}>)
endfunction()

cmake_policy(POP)
