"""Records the person sends after their request (issue 29): the files (``documents``,
checked and cleaned by ``files``, scanned by ``clamd``) and the release that lets the
center fetch them (``releases``). No Flask here; ``settings`` turns the configuration into
what the services take."""
