#!/usr/bin/env python3
"""Renders chat templates with Jinja2 configured as Hugging Face transformers configures it for apply_chat_template
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its tojson and raise_exception), and
writes the results as test cases for SeekSharp's Jinja subset:

    python3 bench/SeekSharp.Bench.Tokenizer/tools/make_template_cases.py > tests/SeekSharp.Tests/Data/tokenizer/template_cases.json

Needs only the jinja2 package. The DeepSeek templates are read from the repository's test data."""
import json, os, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols
from jinja2.exceptions import TemplateError

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
DATA = os.path.join(ROOT, "tests", "SeekSharp.Tests", "Data", "tokenizer")
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"


def environment():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def msg(role, content, tool_calls=None):
    m = {"role": role, "content": content}   # SeekSharp always passes content (None when absent)
    if tool_calls is not None:
        m["tool_calls"] = [{"type": "function", "function": {"name": n, "arguments": a}} for n, a in tool_calls]
    return m


V3 = json.load(open(os.path.join(DATA, "deepseek-v3", "tokenizer_config.json"), encoding="utf-8"))["chat_template"]
V2 = ("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}"
      "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n\\n' }}"
      "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}"
      "{% elif message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% endif %}{% endfor %}"
      "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")

# Templates written for these tests, each exercising a corner of the Jinja subset.
R1_LIKE = """{%- set ns = namespace(system='') -%}
{%- for m in messages if m.role == 'system' -%}{%- set ns.system = ns.system + m.content -%}{%- endfor -%}
{{ bos_token }}{{ ns.system }}
{%- for m in messages -%}
  {%- if m['role'] == 'user' -%}<｜User｜>{{ m['content'] }}
  {%- elif m['role'] == 'assistant' -%}
    {%- set content = m['content'] -%}
    {%- if '</think>' in content -%}{%- set content = content.split('</think>')[-1] -%}{%- endif -%}
    <｜Assistant｜>{{ content }}<｜end▁of▁sentence｜>
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt %}<｜Assistant｜><think>
{% endif -%}"""

CHATML = """{% for message in messages %}
{% if loop.first and messages[0]['role'] != 'system' %}
<|im_start|>system
You are a helpful assistant.<|im_end|>
{% endif %}
<|im_start|>{{ message['role'] }}
{{ message['content'] | trim }}<|im_end|>
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}
"""

FEATURES = """{#- a comment -#}
{%- macro tag(role, text='?') -%}[{{ role | upper }}:{{ text }}]{%- endmacro -%}
{% for m in messages %}
  {{ loop.index }}/{{ loop.length }}{% if loop.first %} first{% endif %}{% if loop.last %} last{% endif %} {{ tag(m.role, m.content[:5]) }}
  {{- ' ' ~ (m.content | length) ~ ' ' ~ m.content.strip().title() | replace(' ', '_') }}
{% else %}
no messages
{% endfor %}
{% set d = {'b': 2, 'a': [1, 2.5, none, true, "x\\"y"]} %}
{{ d | tojson }} {{ d | tojson(indent=2) }}
{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}
{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(' | ') }}
{{ (messages | length) * 3 // 2 }} {{ 7 / 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ [1, 2][-1] }} {{ 'hello'[1:4] }} {{ 'hello'[::-1] }}
{{ 'yes' if messages[0].content is string and messages[0].tool_calls is not defined else 'no' }}
{{ missing is defined }} {{ missing | default('fallback') }} {{ none is none }} {{ 3 is odd }} {{ 'x' in 'xyz' }} {{ 'q' not in ['a'] }}
{{ '  padded  ' | trim }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b  c'.split() }}|{{ 'Title case'.startswith('Ti') }}
{%- for i in range(3) %}{% if i == 1 %}{% continue %}{% endif %}<{{ i }}>{% endfor %}
{%- for i in range(10) %}{% if i > 2 %}{% break %}{% endif %}({{ i }}){% endfor %}
{% set joined %}{% for m in messages %}{{ m.role[0] }}{% endfor %}{% endset %}{{ joined }}
{%- if add_generation_prompt %}
    GEN
{%- endif %}"""

CONVERSATIONS = {
    "plain": [msg("system", "You are a helpful assistant."), msg("user", "Hi"), msg("assistant", "Hello!"), msg("user", "How are you?")],
    "two_systems": [msg("system", "Rule one."), msg("system", "Rule two."), msg("user", "Go")],
    "no_system": [msg("user", "  spaced  out  "), msg("assistant", "ok <｜tool▁sep｜> literal")],
    "one_tool_call": [msg("user", "Weather in Paris?"),
                      msg("assistant", None, [("get_weather", '{"city": "Paris"}')]),
                      msg("tool", "22C and sunny"),
                      msg("assistant", "It is 22C and sunny in Paris.")],
    "two_tool_calls": [msg("system", "Use tools."), msg("user", "Paris and Rome?"),
                       msg("assistant", None, [("get_weather", '{"city": "Paris"}'), ("get_weather", '{"city": "Rome"}')]),
                       msg("tool", "22C"), msg("tool", "25C"),
                       msg("assistant", "Paris 22C, Rome 25C."), msg("user", "Thanks")],
    "ends_in_tool_output": [msg("user", "Time?"), msg("assistant", None, [("now", "{}")]), msg("tool", "12:00")],
    "thinking": [msg("user", "2+2?"), msg("assistant", "<think>\nadd them\n</think>\n\n4"), msg("user", "and 3+3?")],
}

CASES = [
    ("deepseek-v3", V3, ["plain", "two_systems", "no_system", "one_tool_call", "two_tool_calls", "ends_in_tool_output"]),
    ("deepseek-v2", V2, ["plain", "no_system", "two_systems"]),
    ("r1-like", R1_LIKE, ["plain", "thinking", "two_systems"]),
    ("chatml", CHATML, ["plain", "no_system"]),
    ("features", FEATURES, ["plain", "no_system", "thinking"]),
]

env = environment()
out = []
for name, source, conversations in CASES:
    template = env.from_string(source)
    for conv in conversations:
        for gen in (False, True):
            rendered = template.render(messages=CONVERSATIONS[conv], add_generation_prompt=gen, tools=None, documents=None,
                                       bos_token=BOS, eos_token=EOS)
            out.append({"template_name": name, "conversation": conv, "template": source, "messages": CONVERSATIONS[conv],
                        "add_generation_prompt": gen, "bos_token": BOS, "eos_token": EOS, "rendered": rendered})
json.dump({"source": "Jinja2 " + __import__("jinja2").__version__ + " configured as transformers' apply_chat_template; "
           "made by bench/SeekSharp.Bench.Tokenizer/tools/make_template_cases.py", "cases": out},
          sys.stdout, ensure_ascii=False, indent=1)
