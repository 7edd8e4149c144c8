# What `cmake --install` puts in place on FreeBSD beside bin/jailwarden
# (src/CMakeLists.txt): the platform-independent files at the same paths
# as on Linux (packaging/linux/CPackConfig.cmake), the example policy where
# FreeBSD keeps examples, and the newsyslog entry. The rc.d script is the
# port's (USE_RC_SUBR, port/files/jailwarden.in). port/pkg-plist lists
# exactly this; packaging/freebsd/check-plist.sh compares the two.
# Included from the top-level CMakeLists.txt when CMAKE_SYSTEM_NAME is
# FreeBSD.
set(_jw_fbsd_pkg ${CMAKE_CURRENT_LIST_DIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dashboards/ DESTINATION share/jailwarden/dashboards
        FILES_MATCHING PATTERN "*.json" PATTERN "README.md"
        PATTERN "alerts" EXCLUDE PATTERN "tools" EXCLUDE PATTERN "provisioning" EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/dashboards/provisioning/
        DESTINATION share/jailwarden/grafana-provisioning)
install(FILES ${PROJECT_SOURCE_DIR}/dashboards/alerts/jailwarden.rules.yml
        DESTINATION share/jailwarden/alerts)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/examples/jailwarden.yaml
        DESTINATION share/examples/jailwarden)
install(FILES ${_jw_fbsd_pkg}/newsyslog/jailwarden.conf
        DESTINATION etc/newsyslog.conf.d)
