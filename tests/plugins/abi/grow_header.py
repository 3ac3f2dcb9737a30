#!/usr/bin/env python3
"""grow_header.py IN OUT — write a hypothetical next minor of trainbench/plugin.h:
TB_ABI_MINOR + 1, and a field appended at the end of every definition a plugin hands
over (tb_plugin, tb_hparam, tb_loss_def, tb_optimizer_def, tb_schedule_def) and
of the tensors the host lends, as a later minor would. The ABI-growth test
compiles the loader against it and loads a plugin built against the frozen
2.0 header: the appended fields must read as zero."""
import re
import sys

text = open(sys.argv[1]).read()
minor = re.search(r'#define TB_ABI_MINOR (\d+)\b', text)
if not minor:
    sys.exit('grow_header.py: no TB_ABI_MINOR in %s' % sys.argv[1])
text = text.replace(minor.group(0), '#define TB_ABI_MINOR %d' % (int(minor.group(1)) + 1), 1)
for name in ['tb_plugin', 'tb_hparam', 'tb_loss_def', 'tb_optimizer_def', 'tb_schedule_def',
             'tb_tensor']:
    closing = '} %s;' % name
    if closing not in text:
        sys.exit('grow_header.py: no "%s" in %s' % (closing, sys.argv[1]))
    text = text.replace(closing, '  uint64_t grown_next; /* the next minor (test) */\n' + closing, 1)
open(sys.argv[2], 'w').write(text)
