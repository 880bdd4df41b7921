"""Plumbing with no domain knowledge: atomic files, crash points, redaction, logs.

Files: ``fsutil`` (atomic replacement), ``dirsync`` (a directory's entries synced, where its
file system can), ``pathroom`` (room under ``PATH_MAX`` for a directory's files), ``torn``
(a torn tail cut aside), ``madedir`` (a directory
another process may be making too), ``filemode`` (the permission
bits a rewritten file keeps), ``wholelines`` (appending in whole lines), ``linescan`` (a
file's first bytes hashed, counted and searched whole), ``outfile`` (a
tool's ``--output``), ``tmpfiles`` (what a write killed before its rename left),
``oserrors`` (the way out of an error the system gave), ``oncefixed`` (what must be so
before a run a refused write stopped is resumed), ``underfoot`` (a file appended to
that another tool cut, moved or removed), ``tempdir`` (what to do when
no temporary directory can be written) and ``dirlock``
(a ``flock`` on a directory, and who holds it), ``anchor`` (a relative path resolved once,
as an API call starts). Text and
numbers: ``secrets`` (redaction and the secret scan), ``secret_urls`` (what of a URL or a
DSN is its credential), ``text`` (a plug-in's text made fit
for files and messages), ``charnames`` (a character a key may not hold, named),
``decimalwords`` (a ``decimal`` signal in words), ``jsonwords``
(a ``--json`` object's texts read as UTF-8 under any locale), ``numbertext`` (the one
form a number may be written in) and ``retryafter`` (how long an HTTP answer's
``Retry-After`` asks to wait).
Process: ``calledfrom`` (which of a caller's plug-ins a thread is in, for a deferred verb's
words), ``crash`` (crash points), ``logging`` (JSON lines, redacted), ``signals`` (handlers
a forked child does not keep), ``flags`` (a flag for a ``with`` block), ``childpath`` (the
import path a child process shares with its parent), ``built`` (a test's hook to the
collaborators built in a block). Imports:
``optional`` (the optional extras), ``lazy`` (PEP 562 exports), ``references``
(``package.module:callable`` plug-ins), ``provenance`` (what a plug-in imports besides
its own file), ``reloaded`` (code made before its module was
reloaded), ``fielddocs`` (fields' docstrings for ``help()``), ``pluginwords`` (a plug-in's
failure and what it lacks, in words), ``usercode`` (the line of the user's own code that raised),
``handlerraised`` (an exception a user's signal handler raised) and
``searchpath`` (the search path a reference's import has, for its thread only).
"""
