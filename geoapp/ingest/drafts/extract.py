"""A plan's text -> a draft of its map: sections, proposed places, tasks and targets.

Pure functions over a string and a Gazetteer (geoapp.ingest.drafts.gazetteer); no Flask, no files.
How it reads (docs/drafting.md says it for reviewers):

1. Sections: geoapp.data.plan_text.sections_of, the same notation as the shipped tasks.yaml.
2. Words: rjieba (jieba-rs, its own dictionary compiled in) segments and tags the text, with the
   province's names and the place suffixes added as words, so 浑南 or 集聚区 is one token.
3. Places: every suffix (高新区, 新区, 园, 基地, 集群, 实验室, 中心, 科技城/科学城, 试验区/示范区,
   产业带 …) is read leftwards over name-like tokens; the name starts at its first place word (a city,
   district, contraction such as 沈大 or 金普, 辽宁/东北, or an organisation such as 中科院). A
   phrase with no place word (省级临床医学研究中心) is generic and is not proposed. Lists share a
   head: 鞍山、本溪……辽阳国家高新区 gives six zones, 沈阳和大连产业集群 two clusters,
   本溪生物医药、鞍山激光、阜新液压等一批……产业集群 three.
4. Location: the district the name gives (浑南, 旅顺 …), else its city, else (for one place, not
   for list members) the one district/city its clause names, else the province; with
   location_precision, the seat of that unit as the point, and a confidence.
5. Group terms (data/boundaries/group_terms.yaml, also province-only): a term the text writes
   (“五点一线”沿海经济带相关产业园) is not one place but a fixed set: each member is proposed in its
   own district (the gazetteer's), at a lower confidence than a name written out, unless the text
   also writes the member itself (then that proposal gets the group's mention too).
6. Known places (unless province-only): a proposal whose name is a registry place's name, plan
   name or short name is linked to that id and takes its location; registry names written in the
   text that no suffix rule found are proposed as links too.
7. Targets: every Arabic number with a unit (个 家 项 亿元 % …), its metric (the noun phrase after
   the unit, else before the verb), the year (到2020年) or period (“十二五”期间) of its sentence or
   section, and stated_as (achieved for the past, target for the plan's own goals).
8. Tasks: one per sentence that names places or states targets, with the cities and industries
   the sentence names.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from functools import lru_cache


from geoapp import vocab
from geoapp.data import plan_text
from geoapp.data.groups import GroupMember, GroupTerm
from geoapp.ingest.drafts.gazetteer import REGIONS, Gazetteer, KnownPlace, normalise, short_form

SUFFIX = re.compile(
    r"高新技术产业开发区|高新技术产业园区|经济技术开发区|高新区|开发区|集聚区|新区|产业园区|工业园区|"
    r"科技园区|产业园|科技园|工业园|工业区|经济区|园区|产业基地|基地|产业集群|集群|国家实验室|实验室|"
    r"研究院|中心|科技城|科学城|试验区|示范区|(?:产业|经济|创新)带(?![来动领头给有])|走廊|直联点|枢纽")
SUFFIX_WORDS = ("高新区", "开发区", "集聚区", "新区", "产业园", "科技园", "工业园", "工业区", "园区",
                "基地", "集群", "实验室", "研究院", "中心", "科技城", "科学城", "试验区", "示范区",
                "产业带", "经济带", "创新带", "核心区")
# Verbs that occur inside names (育成中心, 改革创新试验区); any other verb ends a name.
NAME_VERBS = frozenset("育成 创新 孵化 示范 试验 改革 研究 制造 转移 交易 服务 检测 监测 计算 应用 "
                       "转化 设计 研发 集聚 综合 创业 智能 加工 种植 育种 直联 干预 超算 云计算".split())
BODY_TAGS = ("n", "nz", "nt", "ns", "nr", "nrt", "l", "j", "eng", "b", "vn", "an", "a", "i", "g", "k",
             "h", "f", "s", "ng", "nrfg", "z")
STOP_WORDS = frozenset("为 成为 作为 建成 形成 是 有 在 以 对 将 把 向 从 由 到 等 的 之 其".split())
# Words the segmenter tags as place names that are not places in a plan's prose.
NOT_PLACES = frozenset("全省 我省 新建 新城 全国 国内 国际 中国 我国 全市 本市 全区 各地 地方 区域 沿海 内陆 城乡 东部 西部 "
                       "南部 北部 中部 省内 市内 域内 海内外 境内 境外".split())
COORDINATORS = ("、", "和", "及", "与", "以及")
QUANTIFIERS = re.compile(r"^(?:一批|一系列|一些|多个|若干|各类|诸多)")
LEVEL_WORD = re.compile(r"国家级|国家|省级|市级")
UNITS = ("万平方米|平方公里|平方米|亿美元|万美元|亿元|万元|元|万人次|人次|万人年|人年|万人|万户|万吨|万名|万件|万家|万个|万项|"
         "人|个|家|项|所|座|"
         "条|名|件|台|套|种|批|户|吨|公顷|亩|篇|倍|%|％")
NUMBER = re.compile(r"(?<![\d.〔（(第])(\d+(?:\.\d+)?)(?:\s*[-－~～]\s*(\d+(?:\.\d+)?))?\s*([余多])?\s*"
                    rf"({UNITS})(以上|左右|以内|/年)?")
YEAR = re.compile(r"(?:到|至|在)?\s*(20\d\d|19\d\d)\s*年")
PERIOD = re.compile(r"“?(十[一二三四五六七八九]五)”?(?:期间|时期|末期|末)|未来五年|每年")
SENTENCE_END = re.compile(r"[。！？；]")
NOUNISH = ("n", "nz", "nt", "ns", "nr", "l", "j", "eng", "b", "vn", "an", "ng", "x")
# Words the plan's industries go by (codes and labels: geoapp/vocab.py INDUSTRIES).
INDUSTRY_WORDS = {
    "equipment": ("装备", "机器人", "智能制造", "数控机床", "增材制造", "液压", "激光"),
    "electronics": ("电子信息", "新一代信息技术", "软件", "集成电路", "IC", "云计算", "大数据", "物联网"),
    "new_materials": ("新材料", "材料"),
    "chemicals": ("化工", "石化", "催化"),
    "agriculture": ("农业", "种业", "育种", "农产品"),
    "biomedicine": ("生物医药", "医药", "医疗器械", "中药"),
    "energy_environment": ("节能环保", "环保", "节能"),
    "marine": ("海洋",),
    "st_services": ("科技服务",),
    "new_energy": ("新能源", "洁净能源", "清洁能源"),
}
# English for the commonest metric heads (the rest keep their Chinese in brackets).
METRIC_WORDS = (("高新区", "High-tech zones"), ("孵化器", "Incubators"), ("众创空间", "Makerspaces"),
                ("大学科技园", "University science parks"), ("实验室", "Laboratories"),
                ("研究中心", "Research centres"), ("技术中心", "Technology centres"),
                ("中心", "Centres"), ("平台", "Platforms"), ("基地", "Bases"), ("集群", "Clusters"),
                ("企业", "Enterprises"), ("项目", "Projects"), ("联盟", "Alliances"),
                ("人才", "Talent"), ("人", "People"), ("经费", "Funding"), ("投入", "Investment"),
                ("收入", "Revenue"), ("成交额", "Turnover"), ("增加值", "Value added"),
                ("比重", "Share"), ("增长", "Growth"), ("新品种", "New varieties"),
                ("品种", "Varieties"), ("专利", "Patents"), ("技术", "Technologies"),
                ("产品", "Products"), ("园", "Parks"))
UNIT_EN = {"个": "", "家": "", "项": "", "亿元": "100 million yuan", "万元": "10,000 yuan",
           "%": "%", "％": "%", "万人": "10,000 people", "人": "people", "倍": "times",
           "万平方米": "10,000 m²", "平方米": "m²"}


HOW_ZH = {
    "the name gives the district": "名称给出了区县",
    "the name gives the city, its clause the district": "名称给出了城市，所在分句给出了区县",
    "the name gives the city": "名称给出了城市",
    "the name names several cities": "名称涉及多个城市",
    "its clause gives the district": "所在分句给出了区县",
    "its clause gives the city": "所在分句给出了城市",
    "no city or district in the name or its clause": "名称和所在分句都没有城市或区县",
    "no place word of its own: placed with the name listed before it": "名称本身无地名，按其前并列的名称定位",
    "no place word of its own": "名称本身无地名",
    "the plan's own city (its title)": "规划本身所属城市（见标题）",
    "a place the atlas already knows (linked by its name)": "地图已有的地点（按名称关联）",
}


GROUP_HOW = re.compile(r"(a place the atlas already knows, )?member of group term (.+) \(gazetteer (.+)\)")
# Confidence of a member of a group term the text writes: below a name written out (0.75–0.85)
# and below "accept these" (0.75): a reviewer looks at each.
GROUP_CONFIDENCE = 0.6


def how_zh(how: str) -> str:
    if m := GROUP_HOW.fullmatch(how):
        return (("地图已有的地点，" if m.group(1) else "")
                + f"组合名称“{m.group(2)}”的成员（省级地名表 {m.group(3)}）")
    return HOW_ZH.get(how, how)


@dataclass
class Mention:
    section: str
    start: int          # character offsets into the text
    end: int
    sentence: str


@dataclass
class Place:
    id: str
    name_zh: str
    name_en: str
    kind: str
    level: str
    city_adcode: str
    district_adcode: str
    location_precision: str     # district / city / province (or the registry row's own)
    lon: float
    lat: float
    confidence: float
    how: str                    # how it was located, in words
    industries: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)     # several cities (沈大 …) at province precision
    mentions: list[Mention] = field(default_factory=list)
    registry_id: str = ""
    status: str = "proposed"
    group: str = ""             # the group term it is a member of (五点一线), when expanded from one
    source: str = ""            # where facts not read from the text come from (a group term's)

    @property
    def section(self) -> str:
        return self.mentions[0].section if self.mentions else ""

    @property
    def sentence(self) -> str:
        return self.mentions[0].sentence if self.mentions else ""


@dataclass
class Target:
    metric_zh: str
    metric_en: str
    value: float | None
    unit_zh: str
    year: int | None
    period: str
    stated_as: str
    quote: str
    section: str
    start: int
    end: int
    status: str = "proposed"


@dataclass
class Task:
    id: str
    title_zh: str
    title_en: str
    section: str
    quote: str
    start: int
    end: int
    places: list[str] = field(default_factory=list)
    missing_places: list[dict] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)


@dataclass
class Draft:
    title_zh: str
    period: tuple[int, int] | None
    text: str
    sections: list[dict]
    places: list[Place]
    tasks: list[Task]
    province_only: bool

    @property
    def targets(self) -> list[Target]:
        return [t for task in self.tasks for t in task.targets]

    def to_json(self) -> dict:
        return {"title_zh": self.title_zh, "period": list(self.period) if self.period else None,
                "province_only": self.province_only, "sections": self.sections,
                "places": [asdict(p) for p in self.places], "tasks": [asdict(t) for t in self.tasks]}


# ---------------------------------------------------------------------------------------------
# Words


@dataclass
class Tokens:
    words: list[str]
    tags: list[str]
    starts: list[int]

    def index_at(self, position: int) -> int:
        return bisect_right(self.starts, position) - 1

    def end(self, i: int) -> int:
        return self.starts[i] + len(self.words[i])


@lru_cache(maxsize=8)
def _segmenter(words: tuple[str, ...]) -> rjieba.Jieba:  # noqa: F821 (imported on first use)
    # imported here, not with the module: its dictionary is ~33 MB of every web worker's memory,
    # and only a draft needs it (the web app imports this package for the review page)
    import rjieba
    jieba = rjieba.Jieba()
    for word in words:
        jieba.add_word(word, 100000, "ns")
    for word in SUFFIX_WORDS:
        jieba.add_word(word, 100000, "n")
    return jieba


def tokenise(text: str, gazetteer: Gazetteer) -> Tokens:
    vocabulary = gazetteer.words()
    pairs = _segmenter(tuple(vocabulary)).tag(text)
    names = set(vocabulary)
    words, tags, starts, position = [], [], [], 0
    for word, tag in pairs:
        # The segmenter keeps its own tag for a word it knew (大连/d, 营口/vn): the province's
        # names are place words whatever it says, a suffix a noun, a stop word a stop.
        if word in names:
            tag = "ns"
        elif word in SUFFIX_WORDS:
            tag = "n"
        elif word in STOP_WORDS or (len(word) <= 3 and word.endswith("为")):
            tag = "v"
        words.append(word)
        tags.append(tag)
        starts.append(position)
        position += len(word)
    return Tokens(words, tags, starts)


# ---------------------------------------------------------------------------------------------
# Sentences and sections


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: split at 。！？； and around heading lines (a heading is its
    own sentence; a line broken by a page break continues its sentence)."""
    spans, start, offset = [], 0, 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped and _is_heading(stripped):
            if text[start:offset].strip():
                spans.append((start, offset))
            spans.append((offset, offset + len(line.rstrip("\r\n"))))
            start = offset + len(line)
        offset += len(line)
    if text[start:].strip():
        spans.append((start, len(text)))
    result = []
    for a, b in spans:
        cut = a
        for m in SENTENCE_END.finditer(text, a, b):
            result.append((cut, m.end()))
            cut = m.end()
        if text[cut:b].strip():
            result.append((cut, b))
    return [(a + len(text[a:b]) - len(text[a:b].lstrip()), b) for a, b in result if text[a:b].strip()]


def _is_heading(line: str) -> bool:
    return bool(plan_text._PART.match(line) or plan_text._SUB.match(line) or plan_text._BOX.match(line))


class SectionIndex:
    """Which section (deepest) a character offset lies in."""

    def __init__(self, text: str):
        self.sections = plan_text.sections_of(text)
        self.line_starts = [0]
        for m in re.finditer("\n", text):
            self.line_starts.append(m.end())
        owner: dict[int, tuple[int, str]] = {}
        for ref, section in self.sections.items():
            depth = plan_text._depth(ref)
            for line in range(section.first_line, section.last_line + 1):
                if line not in owner or owner[line][0] <= depth:
                    owner[line] = (depth, ref)
        self.owner = {line: ref for line, (_, ref) in owner.items()}

    def line(self, position: int) -> int:
        return bisect_right(self.line_starts, position)

    def at(self, position: int) -> str:
        return self.owner.get(self.line(position), "")

    def heading_chain(self, ref: str) -> str:
        """The headings of a section and its parents (for 十二五 context)."""
        parts = []
        for key, section in self.sections.items():
            if ref.startswith(key):
                parts.append(section.heading)
        return " ".join(parts)

    def outline(self) -> list[dict]:
        return [{"ref": ref, "heading": s.heading, "first_line": s.first_line, "last_line": s.last_line}
                for ref, s in self.sections.items()]


# ---------------------------------------------------------------------------------------------
# Places


@dataclass
class Candidate:
    name: str
    start: int            # span of the name (or list item) in the text
    end: int
    suffix: str
    anchors: list[tuple[str, tuple[str, ...]]]   # (form, adcodes) found in the name
    in_list: bool
    phrase: str           # the whole phrase (a list with its head)
    borrowed: bool = False  # no place word of its own: listed right after a located name


def _anchor(word: str, gazetteer: Gazetteer, next_word: str = "", tag: str = "") -> tuple[str, ...] | None:
    """adcodes a word names (() for a region or organisation: named, not located); None: no place word."""
    if word in gazetteer.forms:
        return gazetteer.forms[word]
    if word in gazetteer.contractions:
        return gazetteer.contractions[word]
    if word.endswith("新区") and word[:-2] in gazetteer.district_contractions:
        return gazetteer.district_contractions[word[:-2]]
    if word in gazetteer.district_contractions and next_word.startswith("新区"):
        return gazetteer.district_contractions[word]
    if word in REGIONS and word not in ("全省", "我省"):
        return ()
    if tag == "ns" and len(word) >= 2 and word not in NOT_PLACES:  # a place word the province's names lack (长兴岛)
        return ()
    return None


def _is_org(word: str, tag: str) -> bool:
    return tag == "nt" and len(word) >= 2 and (word.endswith(("院", "所", "大学", "集团")) or word in ("中科院",))


def _body(word: str, tag: str) -> bool:
    if word.isspace():
        return True
    if tag.startswith("v") and tag != "vn":
        return word in NAME_VERBS
    return tag in BODY_TAGS or word in NAME_VERBS


def _first_anchor(tokens: Tokens, lo: int, hi: int, gazetteer: Gazetteer) -> int | None:
    """Index of the token a name starts at (an organisation right before a place word counts)."""
    for i in range(lo, hi + 1):
        nxt = tokens.words[i + 1] if i + 1 < len(tokens.words) else ""
        # a place word outside the province's names (长兴岛) counts only right before the suffix
        tag = tokens.tags[i] if hi - i <= 2 else ""
        if _anchor(tokens.words[i], gazetteer, nxt, tag) is not None:
            j = i
            while j - 1 >= lo and _is_org(tokens.words[j - 1], tokens.tags[j - 1]):
                j -= 1
            return j
        if _is_org(tokens.words[i], tokens.tags[i]):
            return i
    return None


def _anchors(tokens: Tokens, lo: int, hi: int, gazetteer: Gazetteer) -> list[tuple[str, tuple[str, ...]]]:
    found = []
    for i in range(lo, hi + 1):
        nxt = tokens.words[i + 1] if i + 1 < len(tokens.words) else ""
        codes = _anchor(tokens.words[i], gazetteer, nxt, tokens.tags[i] if hi - i <= 2 else "")
        if codes is not None:
            found.append((tokens.words[i], codes))
    return found


def _scan_item(tokens: Tokens, i: int) -> int:
    """Leftmost token index of the name-like run ending at token i (i itself included)."""
    lo = i
    while lo - 1 >= 0 and _body(tokens.words[lo - 1], tokens.tags[lo - 1]) \
            and tokens.words[lo - 1] not in COORDINATORS:
        lo -= 1
    return lo


def _item(tokens: Tokens, lo: int, hi: int, gazetteer: Gazetteer) -> tuple[int, bool] | None:
    """(start token, bare) of a list member spanning tokens lo..hi: it must start with a place
    word; bare = the member is only place words (鞍山), not 本溪生物医药."""
    while lo <= hi and tokens.words[lo].isspace():
        lo += 1
    start = _first_anchor(tokens, lo, hi, gazetteer)
    if start is None:
        return None
    bare = all(tokens.words[k].isspace() or _anchor(tokens.words[k], gazetteer) is not None
               for k in range(start, hi + 1))
    return start, bare


def _list_before(tokens: Tokens, k: int, gazetteer: Gazetteer, text: str) -> list[tuple[int, int, bool]]:
    """List members (start token, end token, bare) ending at token k, leftwards over 、和及与."""
    members = []
    hi = k
    while hi >= 0:
        lo = _scan_item(tokens, hi)
        item = _item(tokens, lo, hi, gazetteer)
        if item is None:
            break
        start, bare = item
        span = text[tokens.starts[start]:tokens.end(hi)]
        if members and SUFFIX.search(span):  # a full name of its own, not a shared-head member
            break
        members.append((start, hi, bare))
        j = start - 1
        while j >= 0 and tokens.words[j].isspace():
            j -= 1
        if j < 0 or tokens.words[j] not in COORDINATORS:
            break
        hi = j - 1
    return list(reversed(members))


def find_candidates(text: str, tokens: Tokens, gazetteer: Gazetteer) -> list[Candidate]:
    found: list[Candidate] = []
    for m in SUFFIX.finditer(text):
        k = tokens.index_at(m.start())
        last = tokens.index_at(m.end() - 1)
        end = tokens.end(last)
        # X、Y、Z等(一批…)<head>: members before 等 share the head.
        window = text[max(0, m.start() - 14):m.start()]
        etc = window.rfind("等")
        if etc >= 0 and not re.search(r"[，。；：、（）()“”《》]", window[etc:]) \
                and not SUFFIX.search(window[etc:]):
            q = m.start() - len(window) + etc
            head = QUANTIFIERS.sub("", text[q + 1:end].strip())
            level = LEVEL_WORD.search(head)
            head_name = (level.group(0) if level else "") + m.group(0)
            members = _list_before(tokens, tokens.index_at(q) - 1, gazetteer, text)
            phrase = text[tokens.starts[members[0][0]]:end] if members else ""
            for lo, hi, _bare in members:
                a, b = tokens.starts[lo], tokens.end(hi)
                if SUFFIX.search(text[a:b]):
                    continue  # a full name of its own (大连华信云计算中心等数据中心)
                name = re.sub(r"\s+", "", text[a:b]) + head_name
                found.append(Candidate(name, a, b, m.group(0), _anchors(tokens, lo, hi, gazetteer),
                                       True, phrase))
            continue
        lo = k
        while lo - 1 >= 0 and _body(tokens.words[lo - 1], tokens.tags[lo - 1]) \
                and tokens.words[lo - 1] not in COORDINATORS:
            lo -= 1
        # 与/和 inside a name (技术创新与育成中心): keep reading when what follows is no place word
        while lo - 2 >= 0 and tokens.words[lo - 1] in ("与", "和") \
                and _first_anchor(tokens, lo, lo, gazetteer) is None \
                and _body(tokens.words[lo - 2], tokens.tags[lo - 2]):
            lo -= 1
            while lo - 1 >= 0 and _body(tokens.words[lo - 1], tokens.tags[lo - 1]) \
                    and tokens.words[lo - 1] not in COORDINATORS:
                lo -= 1
        start = _first_anchor(tokens, lo, last, gazetteer)
        if start is None:
            # 沈阳材料国家实验室、机器人与智能制造创新研究院: a name with no place word listed
            # right after a located one is read as in the same place (low confidence);
            # any other (省级临床医学研究中心) is generic, not a named place.
            while lo <= last and tokens.words[lo].isspace():
                lo += 1
            before = _coordinated(tokens, lo)
            previous = found[-1] if found else None
            if before is not None and tokens.words[before] == "、" and previous is not None \
                    and previous.anchors and not previous.in_list \
                    and previous.end == tokens.end(before - 1) and len(text[tokens.starts[lo]:end]) >= 6:
                a = tokens.starts[lo]
                found.append(Candidate(re.sub(r"\s+", "", text[a:end]), a, end, m.group(0),
                                       previous.anchors, False, text[a:end], borrowed=True))
            continue
        before = _coordinated(tokens, start)
        members = _list_before(tokens, before - 1, gazetteer, text) if before is not None else []
        a = tokens.starts[start]
        last_name = re.sub(r"\s+", "", text[a:end])
        if members and all(bare for _, _, bare in members):
            # 鞍山、本溪……辽阳国家高新区: the head is what follows the last member's place words
            head_from = start
            while head_from + 1 <= last and (_anchor(tokens.words[head_from], gazetteer) is not None
                                             or tokens.words[head_from].isspace()):
                head_from += 1
            tail = re.sub(r"\s+", "", text[tokens.starts[head_from]:end])
            phrase = text[tokens.starts[members[0][0]]:end]
            for mlo, mhi, _ in members:
                ma, mb = tokens.starts[mlo], tokens.end(mhi)
                found.append(Candidate(re.sub(r"\s+", "", text[ma:mb]) + tail, ma, mb, m.group(0),
                                       _anchors(tokens, mlo, mhi, gazetteer), True, phrase))
            found.append(Candidate(last_name, a, end, m.group(0), _anchors(tokens, start, last, gazetteer),
                                   True, phrase))
        else:
            found.append(Candidate(last_name, a, end, m.group(0), _anchors(tokens, start, last, gazetteer),
                                   False, text[a:end]))
    # A name inside a longer one (金普新区 in 金普新区创新集聚区) is the longer one's
    found.sort(key=lambda c: (c.start, -(c.end - c.start)))
    kept: list[Candidate] = []
    for c in found:
        if any(o.start <= c.start and c.end <= o.end and (o.end - o.start) > (c.end - c.start)
               and not o.in_list for o in kept):
            continue
        if any(o.start == c.start and o.end == c.end and o.name == c.name for o in kept):
            continue
        kept.append(c)
    return kept


QUOTE_CHARS = r"[\s“”\"'‘’《》「」]*"
# What may follow a group term inside the phrase that names it (“五点一线”沿海经济带相关产业园):
# a few characters, no punctuation, coordinator or stop word, up to a place suffix.
GROUP_TAIL = re.compile(rf"(?:[”\"’》」]?[^，。；：、（）()\s“”和及与为是在以将把向从由到等的之]{{0,6}}?(?:{SUFFIX.pattern}))+")
GROUP_TAIL_STOP = re.compile(r"建设|发展|推进|开发|开放|战略|打造|规划")


def group_mentions(text: str, gazetteer: Gazetteer) -> list[tuple[int, int, GroupTerm]]:
    """(start, end, term) of every group term the text writes, the longest wording first; the span
    takes in the quotes around it and the rest of the phrase up to its place suffix
    (“五点一线”沿海经济带相关产业园), the wording the mention quotes."""
    found: list[tuple[int, int, GroupTerm]] = []
    for term in gazetteer.groups:
        for wording in sorted(term.wordings, key=len, reverse=True):
            for m in re.finditer(QUOTE_CHARS.join(map(re.escape, wording)), text):
                a, b = m.start(), m.end()
                if any(x < b and a < y for x, y, _ in found):
                    continue
                if a > 0 and text[a - 1] in "“\"‘《「":
                    a -= 1
                tail = GROUP_TAIL.match(text, b)
                if tail:
                    stop = GROUP_TAIL_STOP.search(tail.group(0))
                    b = tail.end() if stop is None else b
                elif b < len(text) and text[b] in "”\"’》」":
                    b += 1
                found.append((a, b, term))
    return sorted(found, key=lambda f: f[0])


def member_names(member: GroupMember, gazetteer: Gazetteer) -> set[str]:
    """The names (normalised) a text may write a group's member by, to join a member to the
    place the text also names directly: its name, without 辽宁 or its own city in front."""
    names = {normalise(member.name_zh)}
    city = gazetteer.units.get(member.city_adcode)
    for name in list(names):
        for prefix in ("辽宁",) + ((city.name_zh, short_form(city.name_zh)) if city else ()):
            if prefix and name.startswith(prefix) and len(name) - len(prefix) >= 4:
                names.add(name[len(prefix):])
    return names


def _coordinated(tokens: Tokens, start: int) -> int | None:
    """Index of the 、/和/及/与 right before token `start`, if there is one."""
    j = start - 1
    while j >= 0 and tokens.words[j].isspace():
        j -= 1
    return j if j >= 0 and tokens.words[j] in COORDINATORS else None


def guess_kind(name: str, suffix: str) -> str:
    if suffix in ("高新技术产业开发区", "高新技术产业园区", "高新区"):
        return "high_tech_zone"
    if suffix == "集聚区":
        return "service_cluster" if "服务" in name else "innovation_area"
    if suffix in ("产业集群", "集群"):
        return "software_cluster" if "软件" in name else "cluster"
    if suffix in ("产业基地", "基地"):
        return "industrial_base"
    if suffix in ("国家实验室", "实验室"):
        return "laboratory"
    if suffix in ("中心", "研究院", "直联点", "枢纽"):
        return "platform"
    if suffix in ("试验区", "示范区"):
        return "pilot_zone"
    if suffix in ("产业带", "经济带", "创新带", "走廊"):
        return "corridor"
    if suffix in ("新区", "科技城", "科学城"):
        return "innovation_area"
    if "沿海" in name or "五点一线" in name:
        return "coastal_park"
    return "industrial_park"


def guess_level(name: str) -> str:
    if re.search(r"国家", name):
        return "national"
    if "省级" in name or name.startswith("省"):
        return "provincial"
    if "市级" in name:
        return "municipal"
    return "unspecified"


def industries_in(text: str) -> list[str]:
    compact = re.sub(r"\s+", "", text)
    codes = []
    for code, (zh, _en) in vocab.INDUSTRIES.items():
        if zh in compact or any(w in compact for w in INDUSTRY_WORDS.get(code, ())):
            codes.append(code)
    return codes


def _clause(text: str, start: int, end: int) -> str:
    a = max(text.rfind(ch, 0, start) for ch in "，。；：、\n") + 1
    b = min([i for i in (text.find(ch, end) for ch in "，。；：、\n") if i >= 0] or [len(text)])
    return text[a:b]


def _admin_in(text: str, gazetteer: Gazetteer) -> list[str]:
    """adcodes of unambiguous city/district forms written in a short text."""
    codes = []
    for form, adcodes in gazetteer.forms.items():
        if len(adcodes) == 1 and len(form) >= 2 and form in text and adcodes[0] not in codes:
            codes.append(adcodes[0])
    # 沈阳市 also contains 沈阳: keep each unit once
    return codes


def locate(candidate: Candidate, clause: str, gazetteer: Gazetteer,
           plan_city: str = "") -> tuple[str, str, str, list[str], float, str]:
    """(city, district, precision, cities, confidence, how). `plan_city`: the city a city plan's
    title names, where a name with no city of its own (not 辽宁/东北) is put at low confidence."""
    found = _locate(candidate, clause, gazetteer)
    if found[2] == "province" and plan_city and not found[3] \
            and not any(form in REGIONS for form, _ in candidate.anchors):
        return plan_city, "", "city", [], 0.4, "the plan's own city (its title)"
    return found


def _locate(candidate: Candidate, clause: str, gazetteer: Gazetteer) -> tuple[str, str, str, list[str], float, str]:
    districts, cities, several = [], [], []
    for form, codes in candidate.anchors:
        if not codes:  # 辽宁, 东北, an organisation: named, not located
            continue
        if len(codes) == 2 and form in gazetteer.contractions:
            several.extend(codes)
            continue
        if len(codes) == 2 and (form in gazetteer.district_contractions
                                or form[:-2] in gazetteer.district_contractions):
            city = gazetteer.unit(codes[0]).city
            cities.append(city)
            continue
        units = [gazetteer.unit(c) for c in codes]
        if len(units) > 1:  # 铁西: two districts; the city next to it decides
            named = {u.adcode for f, cs in candidate.anchors for u in map(gazetteer.unit, cs)
                     if u.level == "city" and len(cs) == 1}
            units = [u for u in units if u.parent in named]
            if len(units) != 1:
                continue
        unit = units[0]
        (districts if unit.level == "district" else cities).append(unit.adcode)
    districts = list(dict.fromkeys(districts))
    cities = list(dict.fromkeys(cities + [gazetteer.unit(d).parent for d in districts]))
    if candidate.borrowed:
        if len(cities) == 1:
            return (cities[0], districts[0] if len(districts) == 1 else "",
                    "district" if len(districts) == 1 else "city", [], 0.4,
                    "no place word of its own: placed with the name listed before it")
        return "", "", "province", [], 0.2, "no place word of its own"
    if len(districts) == 1 and len(cities) == 1:
        return cities[0], districts[0], "district", [], 0.85, "the name gives the district"
    if len(cities) == 1:
        city = cities[0]
        if not candidate.in_list:
            near = [c for c in _admin_in(clause, gazetteer)
                    if gazetteer.unit(c).level == "district" and gazetteer.unit(c).parent == city]
            if len(near) == 1:
                return city, near[0], "district", [], 0.6, "the name gives the city, its clause the district"
        return city, "", "city", [], 0.8 if not candidate.in_list else 0.75, "the name gives the city"
    if several or len(cities) > 1:
        return "", "", "province", sorted(set(several + cities)), 0.5, "the name names several cities"
    if not candidate.in_list and not any(not codes for _, codes in candidate.anchors):
        near = _admin_in(clause, gazetteer)
        near_cities = list(dict.fromkeys(gazetteer.unit(c).city for c in near))
        if len(near_cities) == 1:
            near_districts = [c for c in near if gazetteer.unit(c).level == "district"]
            if len(near_districts) == 1:
                return near_cities[0], near_districts[0], "district", [], 0.5, "its clause gives the district"
            return near_cities[0], "", "city", [], 0.5, "its clause gives the city"
    return "", "", "province", [], 0.3, "no city or district in the name or its clause"


# ---------------------------------------------------------------------------------------------
# Targets


def _metric(text: str, m: re.Match, tokens: Tokens) -> str:
    after = tokens.index_at(m.end())
    if after < len(tokens.words) and tokens.starts[after] < m.end():
        after += 1
    words = []
    i = after
    while i < len(tokens.words) and (tokens.tags[i] in NOUNISH or tokens.words[i] in NAME_VERBS
                                     or (tokens.tags[i] == "a" and i == after)) \
            and not SENTENCE_END.match(tokens.words[i]) and tokens.words[i] not in "，、：（）()“”":
        words.append(tokens.words[i])
        i += 1
    metric = "".join(words).strip()
    if len(metric) >= 2:
        return metric
    before = tokens.index_at(m.start()) - 1
    while before >= 0 and (tokens.words[before].isspace() or tokens.tags[before].startswith(("v", "d", "p"))
                           and tokens.tags[before] != "vn"):
        before -= 1
    words = []
    while before >= 0 and (tokens.tags[before] in NOUNISH or tokens.words[before] in NAME_VERBS) \
            and tokens.words[before] not in "，、：；。（）()“”\n":
        words.insert(0, tokens.words[before])
        before -= 1
    return "".join(words).strip() or metric


def _metric_en(metric: str, unit: str) -> str:
    for zh, en in METRIC_WORDS:
        if (zh in metric) if len(zh) > 1 else metric.endswith(zh):
            return en
    return f"Figure in {UNIT_EN.get(unit) or unit}" if unit else "Figure"


def find_targets(text: str, sentences: list[tuple[int, int]], index: SectionIndex,
                 tokens: Tokens) -> list[Target]:
    targets = []
    for a, b in sentences:
        sentence = text[a:b]
        section = index.at(a)
        context = index.heading_chain(section)
        for m in NUMBER.finditer(text, a, b):
            if text[m.end():m.end() + 1] in ("年", "月", "日", "号") or m.group(4) == "年":
                continue
            if re.search(r"[〔（(]\s*$", text[max(a, m.start() - 1):m.start()]):
                continue
            value = float(m.group(2) or m.group(1))
            value = int(value) if value.is_integer() else value
            unit = m.group(4) + (m.group(3) or "" if False else "") + (m.group(5) or "")
            if m.group(3):
                unit = m.group(3) + unit
            before = text[a:m.start()]
            # a year after 较/比/与 is the base of a comparison (较2010年增长了51.4%), not the goal's
            years = [y for y in YEAR.finditer(before)
                     if not re.search(r"[较比与同]\s*$", before[:y.start()])]
            year = int(years[-1].group(1)) if years else None
            qa = a + years[-1].start() if years else max(
                [a] + [a + i + 1 for i, ch in enumerate(before) if ch in "，；："])
            qb = min([i for i in (text.find(ch, m.end(), b) for ch in "，；。") if i >= 0] or [b])
            quote = _tidy(text[qa:qb]).rstrip("，；。")
            period_m = next((p for p in PERIOD.finditer(sentence)
                             if not re.search(r"[较比是与]\s*“?$", sentence[:p.start()])), None) \
                or PERIOD.search(context)
            period = period_m.group(0) if period_m and not year else ""
            metric = _metric(text, m, tokens)
            earlier = [t for t in targets if a <= t.start < m.start() and t.metric_zh]
            growth = bool(earlier) and ("增长" in text[earlier[-1].end:m.start()] or m.group(4) == "倍")
            if not metric and earlier and (growth or m.group(4) in ("%", "％")):
                # 全省R&D经费达435.2亿元，较2010年增长了51.4%: the subject is the earlier figure's;
                # a count of other things (…建设5-10个联盟，形成5-10个…研发) is not
                metric = earlier[-1].metric_zh + ("（增长）" if growth else "")
            targets.append(Target(
                metric_zh=metric, metric_en="", value=value, unit_zh=unit,
                year=year, period=period, stated_as=_stated_as(quote, sentence, context, year),
                quote=quote, section=section, start=m.start(), end=m.end()))
            targets[-1].metric_en = _metric_en(targets[-1].metric_zh, m.group(4)) + \
                (" (growth)" if targets[-1].metric_zh.endswith("（增长）") else "")
        # 力争到 2018 年，形成…: a dated goal without a number
        if not NUMBER.search(sentence):
            for y in re.finditer(r"(?:力争|争取)?到\s*(20\d\d)\s*年[，,]?", sentence):
                rest = sentence[y.end():].strip()
                goal = re.split(r"[，。；]", rest)[0][:40]
                if goal:
                    qa = a + y.start()
                    targets.append(Target(metric_zh=goal, metric_en="Goal by the year (see quote)",
                                          value=None, unit_zh="", year=int(y.group(1)), period="",
                                          stated_as="target", quote=sentence[y.start():y.end()] + goal,
                                          section=section, start=qa, end=qa + len(y.group(0))))
    return targets


def _tidy(quote: str) -> str:
    """A quote without the page breaks inside it (quotes are compared without whitespace)."""
    return re.sub(r"\s*\n\s*", "", quote).strip()


def _stated_as(quote: str, sentence: str, context: str, year: int | None) -> str:
    if re.search(r"十[一二]五”?(?:时期|期间)?的?(?:发展)?成就|发展基础|十[一二]五”?时期", context):
        return "achieved"
    if re.search(r"到\s*20\d\d|力争|争取|将|新增|每年|建成|组建|建立|培育|打造|达到.*以上", quote) \
            and not re.search(r"了|已|累计|目前", quote):
        return "target"
    if re.search(r"了|已|累计|目前|拥有|现有", sentence):
        return "achieved"
    return "target"


# ---------------------------------------------------------------------------------------------
# The draft


def first_heading(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:80]
    return ""


FIVE_YEAR = re.compile(r"十([一二三四五六七八九])五")
NUMERALS = "一二三四五六七八九"


def period_of(text: str) -> tuple[int, int] | None:
    head = text[:2000]
    if m := re.search(r"(20\d\d|19\d\d)\s*[-－—–~～至到]\s*(20\d\d|19\d\d)\s*年", head):
        return int(m.group(1)), int(m.group(2))
    if m := FIVE_YEAR.search(first_heading(text)) or FIVE_YEAR.search(head):
        n = 10 + NUMERALS.index(m.group(1)) + 1
        start = 1966 + 5 * (n - 3)   # the 3rd five-year plan began in 1966
        return start, start + 4
    years = [int(y) for y in re.findall(r"(20\d\d)\s*年", text)]
    return (min(years), max(years)) if years else None


def _slug(text: str) -> str:
    from pypinyin import lazy_pinyin  # on first use: its dictionaries are ~54 MB of a web worker
    letters = "".join(p[0] for p in lazy_pinyin(re.sub(r"[^\u4e00-\u9fffA-Za-z0-9]", "", text)) if p)
    return re.sub(r"[^a-z0-9]", "", letters.lower())[:12] or "x"


def draft(text: str, gazetteer: Gazetteer, province_only: bool = False) -> Draft:
    """The whole draft of a plan text. `province_only`: ignore the gazetteer's known places."""
    index = SectionIndex(text)
    tokens = tokenise(text, gazetteer)
    sentences = sentence_spans(text)
    sentence_starts = [a for a, _ in sentences]

    def sentence_of(position: int) -> tuple[int, int]:
        i = max(0, bisect_right(sentence_starts, position) - 1)
        return sentences[i] if sentences else (0, len(text))

    known = {} if province_only else gazetteer.known_by_alias()
    title_cities = [c for c in _admin_in(first_heading(text), gazetteer) if gazetteer.unit(c).level == "city"]
    plan_city = title_cities[0] if len(title_cities) == 1 else ""
    places: dict[tuple, Place] = {}
    used_ids: set[str] = set()

    def add_place(key: tuple, make, mention: Mention) -> Place:
        place = places.get(key)
        if place is None:
            place = places[key] = make()
        if not any(m.start == mention.start for m in place.mentions):
            place.mentions.append(mention)
        return place

    def linked(kp: KnownPlace, mention: Mention, confidence: float,
               how: str = "a place the atlas already knows (linked by its name)") -> Place:
        return add_place(("known", kp.id), lambda: Place(
            id=kp.id, name_zh=kp.name_zh, name_en=kp.name_en, kind=kp.kind, level=kp.level,
            city_adcode=kp.city_adcode, district_adcode=kp.district_adcode,
            location_precision=kp.location_precision, lon=kp.lon, lat=kp.lat, confidence=confidence,
            how=how, industries=list(kp.industries), registry_id=kp.id), mention)

    groups = group_mentions(text, gazetteer)

    def new_id(city: str, name: str) -> str:
        base = "d_" + (_slug(gazetteer.unit(city).name_zh[:-1]) if city else "ln") + "_" + _slug(name)
        pid, n = base, 2
        while pid in used_ids:
            pid, n = f"{base}_{n}", n + 1
        used_ids.add(pid)
        return pid

    for c in find_candidates(text, tokens, gazetteer):
        if any(a < c.end and c.start < b for a, b, _ in groups):
            continue  # a group term's phrase: its members are proposed below
        sa, sb = sentence_of(c.start)
        mention = Mention(index.at(c.start), c.start, c.end, _tidy(text[sa:sb]))
        key_name = normalise(c.name)
        matches = known.get(key_name) or []
        if not matches and c.in_list:
            matches = [kp for kp in known.get(normalise(c.phrase), [])]
        city, district, precision, cities, confidence, how = locate(c, _clause(text, c.start, c.end), gazetteer,
                                                                    plan_city)
        if matches:
            same_city = [kp for kp in matches if not city or kp.city_adcode == city]
            for kp in same_city or matches[:1]:
                linked(kp, mention, 0.95)
            continue
        kind = guess_kind(c.name, c.suffix)
        unit = gazetteer.unit(district or city or gazetteer.province)

        def make(c=c, kind=kind, unit=unit, city=city, district=district, precision=precision,
                 cities=cities, confidence=confidence, how=how) -> Place:
            pid = new_id(city, c.name)
            industries = industries_in(c.name)
            where = gazetteer.unit(district or city).name_en if city else "Liaoning"
            place_en = re.sub(r" (?:(?:Manchu|Mongol|Mongolian) )?(?:Autonomous )?(?:District|County|City)$", "", where)
            industry_en = " ".join(vocab.INDUSTRIES[i][1] for i in industries[:1])
            name_en = " ".join(x for x in (place_en, industry_en.lower(), vocab.KINDS[kind][1]) if x)
            return Place(id=pid, name_zh=c.name, name_en=name_en, kind=kind,
                         level=guess_level(c.phrase if c.in_list else c.name), city_adcode=city,
                         district_adcode=district, location_precision=precision, lon=unit.lon,
                         lat=unit.lat, confidence=confidence, how=how, industries=industries,
                         cities=cities)

        add_place(("new", key_name, city), make, mention)

    # Group terms (“五点一线”…): each member in its own district, or the registry's row, or the
    # place the text also writes directly (no second proposal)
    by_id = {kp.id: kp for kps in known.values() for kp in kps}
    for a, b, term in groups:
        sa, sb = sentence_of(a)
        mention = Mention(index.at(a), a, b, _tidy(text[sa:sb]))
        how = f"member of group term {term.name_zh} (gazetteer {term.file})"
        for member in term.members:
            names = member_names(member, gazetteer)
            kp = by_id.get(member.registry_id) or next(
                (k for n in sorted(names) for k in known.get(n, []) if k.city_adcode == member.city_adcode), None)
            if kp is not None:  # the registry's row (the gazetteer names it, or by name and city)
                linked(kp, mention, 0.9, "a place the atlas already knows, " + how)
                continue
            direct = next((p for key, p in places.items() if key[0] == "new" and not p.registry_id
                           and normalise(p.name_zh) in names and p.city_adcode in ("", member.city_adcode)), None)
            if direct is not None:
                if member.district_adcode and not direct.district_adcode:
                    # written with its city only (or none): the gazetteer's district is more precise
                    unit = gazetteer.unit(member.district_adcode)
                    if not direct.city_adcode:  # the location is the group's alone
                        direct.confidence = GROUP_CONFIDENCE
                    direct.city_adcode, direct.district_adcode = member.city_adcode, member.district_adcode
                    direct.location_precision, direct.lon, direct.lat, direct.cities = \
                        "district", unit.lon, unit.lat, []
                    direct.how = how
                    direct.group, direct.source = term.name_zh, f"{term.file} ({term.name_zh}): {member.source}"
                if not any(m.start == mention.start for m in direct.mentions):
                    direct.mentions.append(mention)
                continue

            def make(member=member, term=term, how=how) -> Place:
                unit = gazetteer.unit(member.district_adcode or member.city_adcode)
                return Place(id=new_id(member.city_adcode, member.name_zh), name_zh=member.name_zh,
                             name_en=member.name_en, kind=term.member_kind or guess_kind(member.name_zh, ""),
                             level=guess_level(member.name_zh), city_adcode=member.city_adcode,
                             district_adcode=member.district_adcode,
                             location_precision="district" if member.district_adcode else "city",
                             lon=unit.lon, lat=unit.lat, confidence=GROUP_CONFIDENCE, how=how,
                             industries=industries_in(member.name_zh), group=term.name_zh,
                             source=f"{term.file} ({term.name_zh}): {member.source}")

            add_place(("group", normalise(member.name_zh), member.city_adcode), make, mention)

    if known:  # registry names the suffix rules did not reach (机器人与智能制造创新研究院 …)
        covered = {(p.registry_id, m.start) for p in places.values() for m in p.mentions}
        spans = [(m.start, m.end) for p in places.values() if p.registry_id for m in p.mentions]
        for alias, kps in known.items():
            pattern = r"[\s“”\"'‘’《》]*".join(map(re.escape, alias))
            for m in re.finditer(pattern, text):
                if any(a <= m.start() < b or m.start() <= a < m.end() for a, b in spans):
                    continue
                sa, sb = sentence_of(m.start())
                mention = Mention(index.at(m.start()), m.start(), m.end(), _tidy(text[sa:sb]))
                for kp in kps:
                    if (kp.id, m.start()) not in covered:
                        linked(kp, mention, 0.9)
    ordered = sorted(places.values(), key=lambda p: p.mentions[0].start)
    targets = find_targets(text, sentences, index, tokens)
    tasks = build_tasks(text, sentences, index, ordered, targets, gazetteer)
    return Draft(first_heading(text), period_of(text), text, index.outline(), ordered, tasks, province_only)


def build_tasks(text: str, sentences, index: SectionIndex, places: list[Place], targets: list[Target],
                gazetteer: Gazetteer) -> list[Task]:
    by_sentence: dict[tuple[int, int], tuple[list[Place], list[Target]]] = {}
    starts = [a for a, _ in sentences]

    def key(position: int) -> tuple[int, int]:
        return sentences[max(0, bisect_right(starts, position) - 1)]

    for place in places:
        for m in place.mentions:
            entry = by_sentence.setdefault(key(m.start), ([], []))
            if place not in entry[0]:
                entry[0].append(place)
    for target in targets:
        by_sentence.setdefault(key(target.start), ([], []))[1].append(target)
    tasks = []
    for n, ((a, b), (members, found)) in enumerate(sorted(by_sentence.items()), start=1):
        sentence = _tidy(text[a:b])
        section = index.at(a)
        if not section:
            continue  # text before the first heading (the preamble) has no section to cite
        heading = index.sections[section].heading if section in index.sections else ""
        located = [p for p in members if p.location_precision != "province"]
        names = "、".join(p.name_zh for p in members[:3]) + ("等" if len(members) > 3 else "")
        if members:
            title_zh = names[:60]
            title_en = "; ".join(p.name_en for p in members[:3])[:120]
        else:
            title_zh = "、".join(dict.fromkeys(t.metric_zh for t in found))[:60] or heading[:30]
            title_en = f"Figures in section {section}: " + "; ".join(dict.fromkeys(t.metric_en for t in found))[:100]
        cities = [c for c in _admin_in(re.sub(r"\s+", "", sentence), gazetteer)
                  if gazetteer.unit(c).level == "city"]
        tasks.append(Task(
            id=f"draft_{n:03d}", title_zh=title_zh or heading[:30] or section,
            title_en=title_en or f"Section {section}", section=section, quote=sentence,
            start=a, end=b, places=[p.id for p in located],
            missing_places=[{"name_zh": p.name_zh, "name_en": p.name_en,
                             "why": "located only to the province by the draft: the text names no "
                                    "single city or district for it"}
                            for p in members if p.location_precision == "province"],
            cities=cities, industries=industries_in(sentence), targets=found))
    return tasks
