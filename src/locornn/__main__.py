import sys

from locornn.cli import main

sys.exit(main())
