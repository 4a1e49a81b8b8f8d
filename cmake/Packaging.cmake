# Installing wb and building its Debian package (`cpack -G DEB` in the build directory):
# the binary, the man pages (gzipped, as Debian policy wants) and the shell completions.
include(GNUInstallDirs)

file(GLOB WB_MAN_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.1)
set(WB_MAN_GZ)
foreach(page IN LISTS WB_MAN_PAGES)
  get_filename_component(name ${page} NAME)
  set(gz ${PROJECT_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${gz}
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
                     COMMAND sh -c "gzip -9 -n -c '${page}' > '${gz}'"
                     DEPENDS ${page} VERBATIM)
  list(APPEND WB_MAN_GZ ${gz})
endforeach()
add_custom_target(wb_man ALL DEPENDS ${WB_MAN_GZ})

install(TARGETS wb RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${WB_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/completions/wb.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME wb)
install(FILES ${PROJECT_SOURCE_DIR}/completions/_wb DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${PROJECT_SOURCE_DIR}/completions/wb.fish DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME wb)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "wb developers")
set(CPACK_PACKAGE_CONTACT "wb developers <dev@wb.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "wb creates apps, pushes jars as layered images to an OCI registry (no Docker daemon), sets their configuration and starts them on Kubernetes, guided by a tenant profile.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)               # wb_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)                # Depends: from the libraries wb links (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ca-certificates")   # TLS to the cluster and registries is verified
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
include(CPack)
