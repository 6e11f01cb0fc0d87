"""pgcli (prompt_toolkit REPL, psycopg 3 underneath) driven through a pseudo-terminal with pexpect.

Starts pgcli on procgate's URL with a throw-away HOME, waits for its prompt and for the completion refresher
to load the schema metadata, asks for completions of `procgate.ru` with Tab (the menu must offer the views),
then runs a query and reads its answer from the screen.
"""
import os
import re
import sys
import tempfile
import time

import pexpect

from common import URL, emit

TIMEOUT = 15
# Colours, cursor moves and mode switches between the letters on the screen.
ANSI = re.compile(r'\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Z0-9]|[=>])')

observed = {}
with tempfile.TemporaryDirectory(prefix='py-pgcli-') as home:
    config_dir = os.path.join(home, '.config', 'pgcli')
    os.makedirs(config_dir)
    with open(os.path.join(config_dir, 'config'), 'w') as config:
        # No pager (less would wait for a key; PAGER=cat too, in case), no keyring (no secret store here),
        # no banner.
        config.write('[main]\npager = cat\nenable_pager = False\nkeyring = False\nless_chatty = True\n')
    env = {
        'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
        'HOME': home,
        'XDG_CONFIG_HOME': os.path.join(home, '.config'),
        'TERM': 'xterm',
        'LANG': 'C.UTF-8',
        'PAGER': 'cat',
    }
    child = pexpect.spawn('/usr/bin/pgcli', [URL], env=env, dimensions=(40, 200), timeout=TIMEOUT, encoding='utf-8')
    try:
        child.expect('procgate>')
        observed['prompt'] = ANSI.sub('', child.before + child.after).strip().splitlines()[-1]
        # The completion refresher loads schemas, tables and columns in a background thread.
        time.sleep(3)
        child.send('SELECT state FROM procgate.ru\t')
        child.expect('run_segments')
        # The menu's visible entries, each drawn as "<name>  view" (it scrolls: not all of them are shown).
        screen = ANSI.sub('', child.before + child.after + ' view')
        observed['completions'] = sorted(set(re.findall(r'(\w+)\s+view\b', screen)))
        # Close the menu, clear the line, run a query.
        child.send('\x1b')
        child.sendcontrol('u')
        child.send('SELECT 6 * 7 AS answer;\r')
        child.expect(r'\|\s*42\s*\|')
        child.expect(r'SELECT 1')
        observed['answer'] = 42
        child.expect('procgate>')
        child.sendcontrol('d')
        child.expect(pexpect.EOF)
        observed['exited'] = True
    except Exception:
        sys.stderr.write(f'pgcli screen before the failure:\n{child.before!r}\n')
        raise
    finally:
        child.close(force=True)

emit(observed)
