# `make package`: a Debian package with the five binaries, their man pages
# (generated from --help by help2man) and the systemd units.

find_program(HELP2MAN help2man)
set(MPC_MAN_PAGES)
if(HELP2MAN)
  set(descriptions
    "mpc-sandbox|a durable local chain speaking NEAR JSON-RPC with the MPC contract"
    "mpc-node|MPC node key-share store and mutual-TLS migration endpoint"
    "backup-cli|back up an MPC node's key shares and migrate the node"
    "mpc-devnet|a local MPC network on loopback"
    "mpc-attest|verify Intel TDX quotes and dstack measurements offline")
  foreach(entry ${descriptions})
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 app)
    list(GET parts 1 summary)
    set(page ${PROJECT_BINARY_DIR}/man/${app}.1)
    add_custom_command(OUTPUT ${page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section 1 --name ${summary} --output ${page} $<TARGET_FILE:${app}>
      COMMAND gzip -9nf ${page}
      DEPENDS ${app}
      COMMENT "man page for ${app}"
      VERBATIM)
    list(APPEND MPC_MAN_PAGES ${page}.gz)
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${MPC_MAN_PAGES})
  install(FILES ${MPC_MAN_PAGES} DESTINATION share/man/man1)
else()
  message(STATUS "help2man not found: no man pages (scripts/install-deps.sh installs it)")
endif()

install(FILES deploy/mpc-node.service deploy/backup-cli.service DESTINATION lib/systemd/system)
install(FILES README.md DESTINATION share/doc/mpc-backup)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mpc-backup)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "MPC backup service maintainers <mpc-backup@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Backup and migration service for MPC node key shares (mpc-node, backup-cli, mpc-sandbox, mpc-devnet, mpc-attest)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
