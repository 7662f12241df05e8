# `cmake --install build --prefix P` (docs/install.md): everything a cluster
# node needs, with no source tree beside it:
#   P/bin/mlssim                        the simulator
#   P/bin/mlssim-plot-<name>            tools/plot_<name>.py, one command each
#   P/bin/mlssim-dump-<model>           traces/dump_<model>.py (train a model, record a trace)
#   P/<MLSSIM_PYTHON_INSTALL_DIR>/      the site directory (lib/python3.X/dist-packages on Debian):
#     mls_trace.py                      the recorder, `import mls_trace`
#     mlssim_tools/                     the plotting tools and what they share (mlssim_*.py), a package
#   P/share/mlssim/traces/              the dump scripts (dump_*.py), run by mlssim-dump-<model>
#   P/bin/mlssim-train, P/share/mlssim/tools/train.py   training runs (sweep points with train_steps)
#   P/share/mlssim/topologies/          the shipped topologies (mlssim synth)
# The commands find their Python files relative to themselves and the tools
# find P/bin/mlssim beside them, so only PATH=P/bin is needed to run them;
# `import mls_trace` in one's own script needs PYTHONPATH=P/<site directory>
# unless the prefix is /usr/local.
include(GNUInstallDirs)

install(TARGETS mlssim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# A path from the installed directory `from` to `to` (both under the prefix,
# or absolute), so the installed files work under any --prefix.
function(mls_install_relative out from to)
  if(IS_ABSOLUTE "${to}")
    set(${out} "${to}" PARENT_SCOPE)
  else()
    file(RELATIVE_PATH rel "/prefix/${from}" "/prefix/${to}")
    set(${out} "${rel}" PARENT_SCOPE)
  endif()
endfunction()

set(MLS_PYDIR ${MLSSIM_PYTHON_INSTALL_DIR})
set(MLS_DUMPDIR ${CMAKE_INSTALL_DATADIR}/mlssim/traces)
set(MLS_COMMANDS_DIR ${CMAKE_BINARY_DIR}/install-commands)

# The recorder (the library modules of traces/) on the Python path, the dump
# scripts (dump_*.py, which train a model and record it) beside the data; not the tests.
file(GLOB MLS_RECORDER CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/traces/*.py)
list(FILTER MLS_RECORDER EXCLUDE REGEX "/test_[^/]*\\.py$")
set(MLS_DUMPS ${MLS_RECORDER})
list(FILTER MLS_DUMPS INCLUDE REGEX "/dump_[^/]*\\.py$")
list(FILTER MLS_RECORDER EXCLUDE REGEX "/dump_[^/]*\\.py$")
install(FILES ${MLS_RECORDER} DESTINATION ${MLS_PYDIR})
install(FILES ${MLS_DUMPS} DESTINATION ${MLS_DUMPDIR})

# The plotting tools as the package mlssim_tools (not `mlssim`: that name is
# the Python module of the array's arithmetic, which installs into the same
# directory), with the path from the package to P/bin/mlssim.
file(GLOB MLS_PLOT_TOOLS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tools/plot_*.py)
# what the tools share: mlssim_*.py, and plot_sweep.py's halves (sweep_*.py)
file(GLOB MLS_TOOL_MODULES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tools/mlssim_*.py ${PROJECT_SOURCE_DIR}/tools/sweep_*.py)
mls_install_relative(MLS_TOOLS_TO_BIN ${MLS_PYDIR}/mlssim_tools ${CMAKE_INSTALL_BINDIR}/mlssim)
file(WRITE ${MLS_COMMANDS_DIR}/__init__.py
     "\"\"\"mlssim's plotting tools (tools/plot_*.py), installed; each is also a command, mlssim-plot-<name>.\"\"\"\n")
file(WRITE ${MLS_COMMANDS_DIR}/mlssim_installed.py
     "\"\"\"Written by cmake --install: where the mlssim installed with these tools is.\"\"\"\n"
     "import os\n\nMLSSIM = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "
     "\"${MLS_TOOLS_TO_BIN}\"))\n")
install(FILES ${MLS_PLOT_TOOLS} ${MLS_TOOL_MODULES} ${MLS_COMMANDS_DIR}/__init__.py
              ${MLS_COMMANDS_DIR}/mlssim_installed.py
        DESTINATION ${MLS_PYDIR}/mlssim_tools)

# One command per tool and dump script: a Python file that puts the install's
# Python directories first on sys.path and runs the module as its __main__.
mls_install_relative(MLS_BIN_TO_PYDIR ${CMAKE_INSTALL_BINDIR} ${MLS_PYDIR})
mls_install_relative(MLS_BIN_TO_DUMPDIR ${CMAKE_INSTALL_BINDIR} ${MLS_DUMPDIR})
function(mls_install_command command module dirs)
  set(MLS_COMMAND ${command})
  set(MLS_MODULE ${module})
  set(MLS_PATHS "")
  foreach(dir ${dirs})
    string(APPEND MLS_PATHS "\"${dir}\", ")
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/command.py.in ${MLS_COMMANDS_DIR}/${command} @ONLY)
  install(PROGRAMS ${MLS_COMMANDS_DIR}/${command} DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()
foreach(tool ${MLS_PLOT_TOOLS})
  get_filename_component(name ${tool} NAME_WE)  # plot_energy
  string(REPLACE "_" "-" command "mlssim-${name}")
  mls_install_command(${command} mlssim_tools.${name} "${MLS_BIN_TO_PYDIR}")
endforeach()
foreach(script ${MLS_DUMPS})
  get_filename_component(name ${script} NAME_WE)
  if(NOT name STREQUAL "dump_common")
    string(REPLACE "_" "-" command "mlssim-${name}")
    mls_install_command(${command} ${name} "${MLS_BIN_TO_DUMPDIR};${MLS_BIN_TO_PYDIR}")
  endif()
endforeach()

# tools/train.py as mlssim-train, with the Python module: the program
# `mlssim sweep` runs beside itself for a point that trains.
if(TARGET _mlssim)
  set(MLS_TRAINDIR ${CMAKE_INSTALL_DATADIR}/mlssim/tools)
  install(FILES ${PROJECT_SOURCE_DIR}/tools/train.py DESTINATION ${MLS_TRAINDIR})
  mls_install_relative(MLS_BIN_TO_TRAINDIR ${CMAKE_INSTALL_BINDIR} ${MLS_TRAINDIR})
  mls_install_command(mlssim-train train "${MLS_BIN_TO_TRAINDIR};${MLS_BIN_TO_DUMPDIR};${MLS_BIN_TO_PYDIR}")
endif()

# The shipped topologies, for `mlssim synth` on a node without the source tree.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/topologies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/mlssim/topologies
        FILES_MATCHING PATTERN "*.json" PATTERN "*.csv")
