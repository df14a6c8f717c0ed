"""The config file as a document: comment-preserving edits, validated atomic writes,
the ``packycode:`` migration and the watcher that applies hand edits."""
