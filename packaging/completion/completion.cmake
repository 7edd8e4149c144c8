# Shell completion, generated at build time by the built binary from its
# own command line definition (`jailwarden completion bash|zsh`, src/cli/
# completion.cc), into the build tree, and installed where each shell
# looks for packaged completions. Included from src/CMakeLists.txt after
# the jailwarden target. tests/cli/completion_test.sh runs the bash one in
# `bash --norc` and checks the zsh one with `zsh -n`.
set(_jw_completion_dir ${PROJECT_BINARY_DIR}/completion)
set(JW_BASH_COMPLETION ${_jw_completion_dir}/jailwarden)
set(JW_ZSH_COMPLETION ${_jw_completion_dir}/_jailwarden)
add_custom_command(
  OUTPUT ${JW_BASH_COMPLETION} ${JW_ZSH_COMPLETION}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_jw_completion_dir}
  COMMAND $<TARGET_FILE:jailwarden> completion bash > ${JW_BASH_COMPLETION}.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${JW_BASH_COMPLETION}.tmp ${JW_BASH_COMPLETION}
  COMMAND $<TARGET_FILE:jailwarden> completion zsh > ${JW_ZSH_COMPLETION}.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${JW_ZSH_COMPLETION}.tmp ${JW_ZSH_COMPLETION}
  DEPENDS jailwarden
  COMMENT "Generating the bash and zsh completion of jailwarden"
  VERBATIM)
add_custom_target(jw_completion ALL DEPENDS ${JW_BASH_COMPLETION} ${JW_ZSH_COMPLETION})

# bash-completion's directory is the same on Debian and FreeBSD
# (share/bash-completion/completions under the prefix); zsh's differs:
# Debian's vendor-completions, FreeBSD's site-functions (the zsh port's
# $fpath for packages).
if(CMAKE_SYSTEM_NAME STREQUAL "FreeBSD")
  set(_jw_zsh_dir share/zsh/site-functions)
else()
  set(_jw_zsh_dir share/zsh/vendor-completions)
endif()
install(FILES ${JW_BASH_COMPLETION} DESTINATION share/bash-completion/completions
        COMPONENT jailwarden)
install(FILES ${JW_ZSH_COMPLETION} DESTINATION ${_jw_zsh_dir} COMPONENT jailwarden)
