"""The web app (``web/``, built by Vite into ``dist/``) and the API docs pages, served by
``clipfeed serve`` at ``/``; see ``web/README.md``."""
