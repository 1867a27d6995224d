# The avo under test (AVO_EXE, AVO_APPLY_EXE from the test) as avo::avo and avo::apply, and
# avo_tune() from the source tree: what the test projects include instead of find_package(avo).
set(AVO_EXE "" CACHE FILEPATH "the avo command")
set(AVO_APPLY_EXE "" CACHE FILEPATH "the avo-apply command")
add_executable(avo::avo IMPORTED)
set_target_properties(avo::avo PROPERTIES IMPORTED_LOCATION "${AVO_EXE}")
add_executable(avo::apply IMPORTED)
set_target_properties(avo::apply PROPERTIES IMPORTED_LOCATION "${AVO_APPLY_EXE}")
include(${AVO_SOURCE_DIR}/cmake/AvoTune.cmake)
