# The entry point of the tar.gz's lib/: `python3 -I -S lib` puts lib/ first on sys.path (and
# nothing of the machine's site-packages), so the bundled dependencies are the ones imported.
# Written for any Python 3, so that an old one says what is wrong.
import sys

if sys.version_info < (3, 11):
    sys.stderr.write(
        "sorabeat needs Python 3.11 or later; this is %s (%s). Set SORABEAT_PYTHON to one.\n"
        % (sys.version.split()[0], sys.executable)
    )
    sys.exit(1)

from sorabeat.cli import main  # noqa: E402

sys.exit(main())
