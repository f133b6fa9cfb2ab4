import sys

from lembed.cli import main

sys.exit(main())
