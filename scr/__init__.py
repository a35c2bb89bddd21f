"""The commands: each script here runs as ``python scr/X.py`` from a checkout, and is installed as
``landmark_emotion.commands.X`` behind a ``landmark-emotion-*`` console command (see pyproject.toml and
:mod:`landmark_emotion.cli.launch`)."""
