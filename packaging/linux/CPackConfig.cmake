# Debian package of jailwarden, built by CPack. Included from the top-level
# CMakeLists.txt after add_subdirectory(src):
#   include(packaging/linux/CPackConfig.cmake)
# then: cmake --build build --target package   (or: cd build && cpack -G DEB)
# Installs under /usr: bin/jailwarden (the top-level install rule), the
# systemd unit, dashboards, alert rules and examples. postinst copies the
# example policy to /etc/jailwarden/jailwarden.yaml if there is none and
# does not start the service.

set(_jw_pkg ${CMAKE_CURRENT_LIST_DIR})
install(FILES ${_jw_pkg}/jailwarden.service DESTINATION lib/systemd/system
        COMPONENT jailwarden)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/examples/jailwarden.yaml
              ${_jw_pkg}/prometheus-scrape.yml
        DESTINATION share/doc/jailwarden/examples COMPONENT jailwarden)
install(FILES ${_jw_pkg}/README.md DESTINATION share/doc/jailwarden COMPONENT jailwarden)
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
set(CPACK_PACKAGE_CONTACT "jailwarden maintainers <jailwarden@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Jails with FreeBSD RCTL semantics, RACCT sampling and Prometheus metrics")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Library dependencies (abseil, prometheus-cpp, civetweb, yaml-cpp) from
# dpkg-shlibdeps; systemd for the unit.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, grafana")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_jw_pkg}/debian/postinst;${_jw_pkg}/debian/prerm;${_jw_pkg}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
