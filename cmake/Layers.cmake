# The module layers (README, "Layout"): which project libraries each module
# may link directly. Configuring fails when a module links anything else
# (a layer violation, or a production library linking a test-only one).
set(MPC_LAYERS
  "mpc_core:"
  "mpc_model:mpc_core"
  "mpc_tls:mpc_core"
  "mpc_net:mpc_core,mpc_tls"
  "mpc_p2p:mpc_core,mpc_tls,mpc_net"
  "mpc_threshold:mpc_core,mpc_model"
  "mpc_attest:mpc_core"
  "mpc_contract:mpc_core,mpc_model,mpc_attest"
  "mpc_near:mpc_core,mpc_model,mpc_net"
  "mpc_dealer:mpc_core,mpc_model"
  "mpc_cli:mpc_core"
  "mpc_sandbox:mpc_core,mpc_model,mpc_contract,mpc_near,mpc_net"
  "mpc_node:mpc_core,mpc_model,mpc_tls,mpc_net,mpc_near,mpc_threshold,mpc_p2p,mpc_attest,mpc_tee"
  "mpc_tee:mpc_core,mpc_model,mpc_net,mpc_attest"
  "mpc_backup:mpc_core,mpc_model,mpc_tls,mpc_net,mpc_near,mpc_tee,mpc_attest"
  "mpc_devnet:mpc_core,mpc_model,mpc_dealer,mpc_node,mpc_sandbox,mpc_net")

function(mpc_check_layers)
  foreach(entry ${MPC_LAYERS})
    string(REPLACE ":" ";" parts "${entry}")
    list(GET parts 0 module)
    list(LENGTH parts n)
    set(allowed "")
    if(n GREATER 1)
      list(GET parts 1 allowed_text)
      string(REPLACE "," ";" allowed "${allowed_text}")
    endif()
    if(NOT TARGET ${module})
      message(FATAL_ERROR "layers: ${module} is listed in cmake/Layers.cmake but is not a target")
    endif()
    get_target_property(direct ${module} LINK_LIBRARIES)
    if(NOT direct)
      set(direct "")
    endif()
    foreach(dep ${direct})
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
      if(dep MATCHES "^mpc_" AND NOT dep IN_LIST allowed)
        message(FATAL_ERROR "layers: ${module} links ${dep}, which its layer may not (allowed: ${allowed}); see cmake/Layers.cmake")
      endif()
    endforeach()
  endforeach()
endfunction()
