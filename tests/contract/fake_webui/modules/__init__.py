"""A fake of WebUI's ``modules`` package, mirroring the signatures of A1111 v1.10.1 that Model
Workbench uses (see ``webui-extension-api.md``). Tests put its parent folder first on ``sys.path``
(the ``fake_webui`` fixture) and drop it again afterwards."""
