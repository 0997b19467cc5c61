import sys

from mockups.cli import main

sys.exit(main())
