# onboard_prune_missing_include_dirs()
#
# Removes non-existent entries from INTERFACE_INCLUDE_DIRECTORIES of every imported
# target visible in the calling directory. Needed for the ROS 2 Jazzy wheels from
# PyPI, whose exported targets carry include paths of the wheel build machine
# (/opt/python/cp3XX-cp3XX/...). Generator expressions are kept untouched.
function(onboard_prune_missing_include_dirs)
  get_directory_property(_targets IMPORTED_TARGETS)
  foreach(_target ${_targets})
    get_target_property(_type ${_target} TYPE)
    if(_type STREQUAL "INTERFACE_LIBRARY" OR _type MATCHES "LIBRARY$" OR _type STREQUAL "UNKNOWN_LIBRARY")
      get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
      if(_dirs)
        set(_kept "")
        set(_pruned FALSE)
        foreach(_dir ${_dirs})
          if(_dir MATCHES "^\\$<" OR EXISTS "${_dir}")
            list(APPEND _kept "${_dir}")
          else()
            set(_pruned TRUE)
            message(STATUS "onboard: dropping missing include dir of ${_target}: ${_dir}")
          endif()
        endforeach()
        if(_pruned)
          set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kept}")
        endif()
      endif()
    endif()
  endforeach()
endfunction()

# onboard_build_only_source_tree_includes(<target>...)
#
# The bootstrap keeps its venv in the source tree (.venv), so rosidl's Python target
# carries numpy's include directory from inside it. CMake refuses to export an include
# path under the source directory; it is only needed to compile the target, so mark
# such entries build-interface only.
function(onboard_build_only_source_tree_includes)
  foreach(_target ${ARGN})
    if(NOT TARGET ${_target})
      continue()
    endif()
    get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _dirs)
      continue()
    endif()
    set(_kept "")
    foreach(_dir ${_dirs})
      string(FIND "${_dir}" "${CMAKE_SOURCE_DIR}/" _at)
      if(_at EQUAL 0)
        list(APPEND _kept "$<BUILD_INTERFACE:${_dir}>")
      else()
        list(APPEND _kept "${_dir}")
      endif()
    endforeach()
    set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kept}")
  endforeach()
endfunction()
