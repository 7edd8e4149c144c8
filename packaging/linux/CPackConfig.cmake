# Debian package of jailwarden, built by CPack. Included from the top-level
# CMakeLists.txt after add_subdirectory(src) and add_subdirectory(man):
#   include(packaging/linux/CPackConfig.cmake)
# then: cmake --build build --target package   (or: cd build && cpack -G DEB)
# What it installs is listed in packaging/linux/README.md ("What it
# installs"); tests/package/package_test.sh runs lintian on the result.
#
# /etc files are installed with absolute destinations (they are conffiles
# and must be in /etc whatever the prefix): `cmake --install` without
# DESTDIR writes them to the running host's /etc.

include(GNUInstallDirs)
set(_jw_pkg ${CMAKE_CURRENT_LIST_DIR})
set(_jw_doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/jailwarden)
install(FILES ${_jw_pkg}/jailwarden.service ${_jw_pkg}/jailwarden.slice
        DESTINATION lib/systemd/system COMPONENT jailwarden)
# The minimal policy (server settings, no jails) is the conffile; the demo
# policy stays an example.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/examples/default.yaml
        DESTINATION /etc/jailwarden RENAME jailwarden.yaml
        COMPONENT jailwarden)
install(FILES ${_jw_pkg}/default-jailwarden DESTINATION /etc/default RENAME jailwarden
        COMPONENT jailwarden)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/examples/jailwarden.yaml
              ${_jw_pkg}/prometheus-scrape.yml
        DESTINATION ${_jw_doc}/examples COMPONENT jailwarden)
install(FILES ${_jw_pkg}/README.md ${_jw_pkg}/debian/copyright DESTINATION ${_jw_doc}
        COMPONENT jailwarden)
install(FILES ${_jw_pkg}/debian/lintian-overrides DESTINATION
        ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME jailwarden COMPONENT jailwarden)
# Debian policy 12.7: the changelog as changelog.Debian.gz, compressed with
# gzip -9n (no name or time stamp, so the package builds reproducibly).
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz
                   COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/packaging
                   COMMAND gzip -9nc ${_jw_pkg}/debian/changelog >
                           ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz
                   DEPENDS ${_jw_pkg}/debian/changelog VERBATIM)
add_custom_target(jw_debian_changelog ALL
                  DEPENDS ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz)
install(FILES ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz DESTINATION ${_jw_doc}
        COMPONENT jailwarden)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dashboards/ DESTINATION share/jailwarden/dashboards
        COMPONENT jailwarden FILES_MATCHING PATTERN "*.json" PATTERN "README.md"
        PATTERN "alerts" EXCLUDE PATTERN "tools" EXCLUDE PATTERN "provisioning" EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dashboards/provisioning/
        DESTINATION share/jailwarden/grafana-provisioning COMPONENT jailwarden)
install(FILES ${PROJECT_SOURCE_DIR}/dashboards/alerts/jailwarden.rules.yml
        DESTINATION share/jailwarden/alerts COMPONENT jailwarden)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "jailwarden")
set(CPACK_PACKAGE_VENDOR "jailwarden")
set(CPACK_PACKAGE_CONTACT "jailwarden maintainers <maintainers@jailwarden.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "jails with FreeBSD RCTL limits, RACCT sampling and Prometheus metrics")
# The extended description; CPack indents it for the control file.
set(CPACK_PACKAGE_DESCRIPTION
    "jailwarden runs jails the way jail(8) does on FreeBSD and builds them\n"
    "from namespaces and cgroups on Linux. One daemon defines, starts and\n"
    "stops jails from a YAML policy (dependencies first, with exec.prestart,\n"
    "exec.start, exec.stop and the other hooks), applies FreeBSD RCTL rules\n"
    "to them (memory, processes, CPU, I/O and the other RACCT resources),\n"
    "samples their usage many times a second and exports it to Prometheus.\n"
    "\n"
    "Jails outlive the daemon: a restart or crash of the service adopts the\n"
    "running jails. The package contains the daemon and its command line\n"
    "client, the jails' init (jailwarden-init), a systemd unit, a minimal\n"
    "policy, Grafana dashboards and Prometheus alert rules.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/jailwarden/jailwarden")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Library dependencies (abseil, prometheus-cpp, libmicrohttpd, yaml-cpp,
# libsystemd) from dpkg-shlibdeps; systemd for the unit.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, grafana")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_jw_pkg}/debian/conffiles;${_jw_pkg}/debian/postinst;${_jw_pkg}/debian/prerm;${_jw_pkg}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
