"""The command line's subcommands, one module per group: each ``cmd_<command>`` runs a command
and the ``add_<command>(subparsers)`` beside it declares its arguments; ``workbench.py`` puts
them together. Choices and defaults come from ``training``, so the command line accepts
exactly what the training code does.
"""
