#!/usr/bin/env python3
"""make_corpus.py — write the seed corpus of the fuzz targets (tests/fuzz/corpus).

    python3 tests/fuzz/make_corpus.py

corpus/csv: an options byte (see fuzz_csv.c) and a file: the heads of the
shipped data sets read by their own rules and as user CSVs, the lua suite's
CSVs, gzip files whole, cut short and followed by garbage, and the shapes of
the loader's documented errors. corpus/script: the Lua scenario scripts of
the test suites and the quickstart, as they are. corpus/plugin: descriptors
in fuzz_plugin.c's byte format (the Desc class below mirrors its read_*
functions): valid losses, optimizers, schedules and wrappers, and one for
each refusal of the loader's chain of checks.

Seeds are named after what they hold; files other than these (crash
reproducers, inputs merged from long runs) are left alone. Rerunning
rewrites the same bytes.
"""
import glob
import gzip
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, 'corpus')


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def gz(data):
    # mtime 0: the same bytes on every run
    return gzip.compress(data, mtime=0)


# ---- csv ------------------------------------------------------------------------

HEADER, LABEL0, LABEL1, LABEL2 = 0x01, 0x02, 0x04, 0x06
AS_IRIS, AS_DIGITS, GZIP, STANDARDIZE = 0x08, 0x18, 0x20, 0x40


def head(path, n):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        return b''.join(f.readline() for _ in range(n))


def csv_seeds():
    data = os.path.join(SRC, 'data')
    iris = head(os.path.join(data, 'iris.csv'), 31)
    wine = head(os.path.join(data, 'wine_data.csv'), 12)
    cancer = head(os.path.join(data, 'breast_cancer.csv'), 8)
    digits = head(os.path.join(data, 'digits.csv.gz'), 12)
    small = open(os.path.join(SRC, 'tests/lua/small.csv'), 'rb').read()
    bad = open(os.path.join(SRC, 'tests/lua/bad_cell.csv'), 'rb').read()
    seeds = {
        'iris_shipped': bytes([AS_IRIS | STANDARDIZE]) + iris,
        'iris_as_header': bytes([HEADER | STANDARDIZE]) + iris,
        'wine_shipped': bytes([AS_IRIS]) + wine,
        'breast_cancer_shipped': bytes([AS_IRIS | STANDARDIZE]) + cancer,
        'digits_shipped': bytes([AS_DIGITS | STANDARDIZE]) + digits,
        'digits_gzipped': bytes([AS_DIGITS | GZIP]) + digits,
        'digits_gz_file': bytes([AS_DIGITS]) + gz(digits),
        'digits_gz_truncated': bytes([AS_DIGITS]) + gz(digits)[:-9],
        'digits_gz_trailing': bytes([AS_DIGITS]) + gz(digits) + b'garbage',
        'digits_gz_two_members': bytes([AS_DIGITS]) + gz(digits[:200]) + gz(digits[200:]),
        'small_label0': bytes([LABEL0 | STANDARDIZE]) + small,
        'small_label_last': bytes([0x80]) + small,
        'bad_cell': bytes([0]) + bad,
        'names_labels': bytes([HEADER | LABEL2 | STANDARDIZE]) +
        b'a,b,species,c\n1,2,cat,3\n4,5,dog,6\n7,8,cat,9\n1.5,2.5,dog,0\n',
        'quoted_crlf_bom': bytes([HEADER]) +
        b'\xef\xbb\xbf"x" , "y",label\r\n 1 ,"2",0\r\n3,4,1\r\n5, 6 ,0\r\n\r\n',
        'nul_byte': bytes([0]) + b'1,2,0\n3,\x004,1\n',
        'blank_middle': bytes([0]) + b'1,2,0\n\n3,4,1\n',
        'ragged': bytes([0]) + b'1,2,0\n3,4\n5,6,1\n',
        'one_class': bytes([0]) + b'1,2,0\n3,4,0\n',
        'not_finite': bytes([0]) + b'1,nan,0\n3,1e40,1\n5,inf,0\n',
        'header_looks_like_data': bytes([HEADER]) + b'1,2,0\n3,4,1\n',
        'text_first_line': bytes([0]) + b'x,y,label\n3,4,1\n5,6,0\n',
        'negative_label': bytes([0]) + b'1,2,-1\n3,4,1\n',
        'mixed_labels': bytes([0]) + b'1,2,1\n3,4,b\n',
        'big_numbers': bytes([LABEL0]) + b'0,1e38,-1e38\n1,3.4028235e38,1e-45\n0,1,2\n',
        'one_row_class': bytes([0x80 | LABEL1 | STANDARDIZE]) + b'0,0,0\n1,1,1\n2,1,1\n3,1,1\n',
    }
    for name, data in seeds.items():
        write('csv', name, data)


# ---- script ------------------------------------------------------------------------

def script_seeds():
    files = sorted(glob.glob(os.path.join(SRC, 'tests/lua/*.lua')) +
                   glob.glob(os.path.join(SRC, 'tests/e2e/*.lua')) +
                   [os.path.join(SRC, 'scripts/quickstart.lua'),
                    os.path.join(SRC, 'tests/perf/tiny.lua')])
    for f in files:
        part = os.path.basename(os.path.dirname(f))
        write('script', part + '_' + os.path.basename(f), open(f, 'rb').read())


# ---- plugin --------------------------------------------------------------------------

STR_POOL = [None, '', 'a', 'lr', 'base', 'sgd', 'adam', 'cross_entropy', 'focal', 'constant',
            'x1', '_', '1x', 'A', 'lr ', 'gamma', 'momentum', 'relu', 'digits', 'loss']
NUM_POOL = [0, 1, -1, 0.5, 2, 10, 1e-3, 100, -0.0, 0.9, 3, 64, 9007199254740992.0, 1e308,
            -1e308, 2147483648.0]
INT_POOL = [0, 1, 2, 3, 4, 8, -1, 64, 65, 65536, 65537, 2**31 - 1, -2**31]
REAL, INT, BOOL, CHOICE, STRING, LIST, RECORD, MATRIX, COMPONENT = range(1, 10)
LOSS, OPTIMIZER, SCHEDULE = 1, 2, 3
F_INTEGER, F_K, F_REQUIRED = 1, 2, 4
# fns bits: loss create eval row destroy head_scale; optimizer create step - destroy
# eval_params; schedule create factor - destroy
CREATE, EVAL, ROW, DESTROY, HEAD_SCALE = 1, 2, 4, 8, 16
STEP = FACTOR = 2


class Desc:
    """Bytes for fuzz_plugin.c, one read_* call per method."""

    def __init__(self):
        self.b = bytearray()

    def u8(self, x):
        self.b.append(x & 0xff)

    def u32(self, x):
        self.b += struct.pack('<I', x & 0xffffffff)

    def str(self, s):
        if s in STR_POOL:
            self.u8(STR_POOL.index(s))
        else:
            raw = s.encode()
            assert len(raw) < 48
            self.u8(255)
            self.u8(len(raw))
            self.b += raw

    def num(self, x):
        if isinstance(x, float) and math.isnan(x):
            self.u8(48)
        elif x == math.inf:
            self.u8(49)
        elif x == -math.inf:
            self.u8(50)
        elif x in NUM_POOL and not (x == 0 and math.copysign(1, x) < 0):
            self.u8(NUM_POOL.index(x))
        else:
            self.u8(51)
            self.b += struct.pack('<d', x)

    def int(self, x):
        if x in INT_POOL:
            self.u8(INT_POOL.index(x))
        else:
            self.u8(255)
            self.u32(x)

    def names(self, names):
        if names is None:
            self.u8(6)
        elif not names:
            self.u8(5)
        else:
            assert len(names) <= 4
            self.u8(len(names))
            for n in names:
                self.str(n)

    def size(self, s):
        # 'frozen' (the declared minor's), 'host', 'short' (frozen - 1), or a
        # number 6/7 mod 8 under 256
        if s == 'frozen':
            self.u8(0)
        elif s == 'host':
            self.u8(3)
        elif s == 'short':
            self.u8(4)
        else:
            assert s % 8 in (6, 7) and s < 256
            self.u8(s)

    def hparam(self, name, type, default=0, lo=0, hi=0, log_scale=0, choices=None, help='',
               def_text=None, def_list=None, def_cols=0, min_n=0, max_n=0, kind=0, flags=0):
        self.str(name)
        self.u8(type - 1 if 1 <= type <= 9 else {0: 240, -1: 241, 10: 242, 11: 243}[type])
        self.num(default)
        self.num(lo)
        self.num(hi)
        self.u8(log_scale)
        self.names(choices)
        self.str(help)
        self.str(def_text)
        n = len(def_list) if def_list is not None else 0
        self.int(n)
        self.int(def_cols)
        if def_list is not None:
            assert n <= 16
            self.u8(1)
            for x in def_list:
                self.num(x)
        else:
            self.u8(0)
        self.int(min_n)
        self.int(max_n)
        self.u8(kind if kind >= 0 else 256 + kind)
        self.u8(flags)

    def table(self, rows, null=False):
        self.u8(len(rows))
        self.u8(15 if null else 0)
        if not null:
            for r in rows:
                self.hparam(**r)

    def definition(self, name, rows=(), size='frozen', hsize='frozen', version='1',
                   services=0, flags=0, requires=0, fns=CREATE | EVAL | STEP | DESTROY,
                   validate=0):
        self.size(size)
        self.size(hsize)
        self.str(name)
        self.str(version)
        self.str('')
        self.str('')
        self.u8(services)
        self.u8(flags)
        self.u8(requires)
        self.u8(fns)
        self.u8(validate)
        self.table(list(rows))

    def plugin(self, losses=(), optimizers=(), schedules=(), major=2, minor=2, size='frozen'):
        self.u8((0x80 | major if major != 2 else 0) | minor << 2)
        self.size(size)
        for defs in (losses, optimizers, schedules):
            if defs is None:
                self.u8(4)
                continue
            self.u8(len(defs))
            for d in defs:
                self.definition(**d)
        return bytes(self.b)


LR = dict(name='lr', type=REAL, default=0.5, lo=0, hi=10, log_scale=1)
MOM = dict(name='momentum', type=REAL, default=0.9, lo=0, hi=1)
GAMMA = dict(name='gamma', type=REAL, default=2, lo=0, hi=10)
MODE = dict(name='a', type=CHOICE, default=1, choices=['x1', 'mean', 'sum'])
STEPS = dict(name='x1', type=INT, default=3, lo=1, hi=100)
FLAG = dict(name='loss', type=BOOL, default=1)
TAG = dict(name='relu', type=STRING, def_text='gamma')
WIDTHS = dict(name='base', type=LIST, lo=1, hi=64, def_list=[8, 4], min_n=1, max_n=4,
              flags=F_INTEGER)
KLIST = dict(name='base', type=LIST, lo=0, hi=10, flags=F_K)
MIX = dict(name='relu', type=RECORD, lo=0, hi=1, choices=['sgd', 'adam'], def_list=[0.25, 0.75])
CONF = dict(name='digits', type=MATRIX, lo=0, hi=1, def_list=[1, 0, 0, 1], def_cols=2)
BASE_OPT = dict(name='base', type=COMPONENT, kind=OPTIMIZER, def_text='sgd')
BASE_LOSS = dict(name='base', type=COMPONENT, kind=LOSS, def_text='cross_entropy')
REQ = dict(name='gamma', type=REAL, default=1, lo=0, hi=5, flags=F_REQUIRED)


def loss(name='cross_entropy', **kw):
    return dict(name=name, **kw)


def opt(name='sgd', rows=(LR,), fns=CREATE | STEP | DESTROY, **kw):
    return dict(name=name, rows=rows, fns=fns, **kw)


def sched(name='constant', fns=CREATE | FACTOR, **kw):
    return dict(name=name, fns=fns, **kw)


def plugin_seeds():
    P = lambda **kw: Desc().plugin(**kw)
    seeds = {
        'valid_loss': P(losses=[loss(rows=[GAMMA, MODE])]),
        'valid_row_loss': P(losses=[loss('focal', fns=CREATE | ROW, rows=[GAMMA, FLAG])]),
        'valid_optimizer': P(optimizers=[opt(rows=[LR, MOM, STEPS])]),
        'valid_schedule': P(schedules=[sched(rows=[STEPS, TAG])]),
        'valid_all_kinds': P(losses=[loss()], optimizers=[opt()], schedules=[sched()]),
        'valid_every_type': P(losses=[loss(rows=[GAMMA, STEPS, FLAG, MODE, TAG, WIDTHS])],
                              optimizers=[opt('adam', rows=[LR, MIX, CONF])]),
        'valid_k_list': P(losses=[loss(rows=[KLIST])]),
        'valid_required': P(losses=[loss(rows=[REQ])]),
        'valid_wrappers': P(losses=[loss(), loss('focal', rows=[BASE_LOSS], services=1 << 5)],
                            optimizers=[opt(), opt('adam', rows=[BASE_OPT], services=1 << 5)]),
        'valid_validate_hooks': P(losses=[loss(validate=1)], optimizers=[opt(validate=2)]),
        'valid_cosine_loss': P(losses=[loss(requires=2, fns=CREATE | EVAL | HEAD_SCALE)]),
        'valid_2_0': P(minor=0, losses=[loss()], optimizers=[opt()], schedules=[sched()]),
        'valid_host_sizes': P(size='host', losses=[loss(size='host', hsize='host')]),
        'valid_larger_stride': P(losses=[loss(hsize=134, rows=[GAMMA, MODE])]),
        'no_lists': P(losses=None, optimizers=None, schedules=None),
        'abi_1': P(major=1),
        'abi_3': P(major=3),
        'minor_3': P(minor=3, losses=[loss()]),
        'plugin_short': P(size='short', losses=[loss()]),
        'loss_short': P(losses=[loss(size='short')]),
        'hparam_short': P(losses=[loss(hsize='short', rows=[GAMMA])]),
        'no_create': P(losses=[loss(fns=EVAL)]),
        'no_eval_or_row': P(losses=[loss(fns=CREATE)]),
        'not_mean_row': P(losses=[loss(flags=1, fns=CREATE | ROW)]),
        'cosine_no_scale': P(losses=[loss(requires=2)]),
        'no_step': P(optimizers=[opt(fns=CREATE)]),
        'no_factor': P(schedules=[sched(fns=CREATE)]),
        'no_lr': P(optimizers=[opt(rows=[MOM])]),
        'schedule_services': P(schedules=[sched(services=1)]),
        'base_without_base': P(optimizers=[opt(services=1 << 5)]),
        'unknown_requires': P(losses=[loss(requires=8)]),
        'twice': P(losses=[loss(), loss()]),
        'bad_name': P(losses=[loss('1x')]),
        'no_name': P(losses=[loss(None)]),
        'hp_unknown_type': P(losses=[loss(rows=[dict(GAMMA, type=10)])]),
        'hp_empty_range': P(losses=[loss(rows=[dict(GAMMA, lo=5, hi=1)])]),
        'hp_nan_range': P(losses=[loss(rows=[dict(GAMMA, lo=math.nan)])]),
        'hp_default_out': P(losses=[loss(rows=[dict(GAMMA, default=math.inf)])]),
        'hp_twice': P(losses=[loss(rows=[GAMMA, GAMMA])]),
        'hp_bad_name': P(losses=[loss(rows=[dict(GAMMA, name='A')])]),
        'hp_unknown_flag': P(losses=[loss(rows=[dict(GAMMA, flags=8)])]),
        'hp_optional_flag': P(losses=[loss(rows=[dict(GAMMA, flags=0xd8)])]),
        'hp_choice_empty': P(losses=[loss(rows=[dict(MODE, choices=[])])]),
        'hp_choice_default_out': P(losses=[loss(rows=[dict(MODE, default=3)])]),
        'hp_record_twice': P(losses=[loss(rows=[dict(MIX, choices=['sgd', 'sgd'])])]),
        'hp_list_lengths': P(losses=[loss(rows=[dict(WIDTHS, min_n=4, max_n=1)])]),
        'hp_list_default_long': P(losses=[loss(rows=[dict(WIDTHS, def_list=[1, 2, 3, 4, 5])])]),
        'hp_matrix_cols': P(losses=[loss(rows=[dict(CONF, def_cols=3)])]),
        'hp_component_kind': P(optimizers=[opt(rows=[LR, dict(BASE_OPT, kind=4)])]),
        'hp_component_no_default': P(optimizers=[opt(rows=[LR, dict(BASE_OPT, def_text=None)])]),
        'hp_component_missing': P(optimizers=[opt(rows=[LR, dict(BASE_OPT, def_text='adam')])]),
        'hp_component_self': P(optimizers=[opt(rows=[LR, BASE_OPT])]),
        'hp_required_example_out': P(losses=[loss(rows=[dict(REQ, default=-1)])]),
        'hp_table_null': None,
        'hp_count_65': None,
    }
    d = Desc()
    d.u8(2 << 2)
    d.size('frozen')
    d.u8(1)
    d.size('frozen'); d.size('frozen'); d.str('cross_entropy'); d.str('1'); d.str(''); d.str('')
    d.u8(0); d.u8(0); d.u8(0); d.u8(CREATE | EVAL); d.u8(0)
    d.table([GAMMA], null=True)
    d.u8(0); d.u8(0)
    seeds['hp_table_null'] = bytes(d.b)
    d = Desc()
    d.u8(2 << 2)
    d.size('frozen')
    d.u8(1)
    d.size('frozen'); d.size('frozen'); d.str('cross_entropy'); d.str('1'); d.str(''); d.str('')
    d.u8(0); d.u8(0); d.u8(0); d.u8(CREATE | EVAL); d.u8(0)
    d.u8(241); d.u8(0)  # n = 65
    d.u8(0); d.u8(0)
    seeds['hp_count_65'] = bytes(d.b)
    for name, data in seeds.items():
        write('plugin', name, data)


if __name__ == '__main__':
    csv_seeds()
    script_seeds()
    plugin_seeds()
