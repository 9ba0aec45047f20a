# The one file WebUI executes. WebUI puts the extension root on sys.path only while this file runs,
# so the package is imported here, once; everything else lives in model_workbench/.
from model_workbench.webui.entry import register

register()
