from tests.engine.conftest import *  # noqa
from tests.engine.conftest import Project


def mk(http, title, **kw):
    r = http.post("/packs", json={"pack": {"title": title, "base_tune_id": 1504944, "model_type": "lora", **kw}})
    assert r.status_code == 201, r.text
    return r.json()


def tp(http, tune, pack, text, **params):
    r = http.post(f"/tunes/{tune}/prompts", json={"prompt": {"text": text, "pack_id": pack, **params}})
    assert r.status_code in (200, 201), r.text
    return r.json()


def show(project, tag=""):
    for p in (project.root / "packs").glob("*.yaml"):
        p.unlink()
    d = project.run("import", "--all")
    print("IMPORT", d.code, d.out, d.err)
    for p in sorted((project.root / "packs").glob("*.yaml")):
        print(p.name)
        print(p.read_text())
    d = project.plan("--detailed-exitcode")
    print("PLAN", d.code, d.out[-3000:], d.err)
    d = project.run("validate")
    print("VALIDATE", d.code, d.out, d.err)
    d = project.run("fmt", "--check")
    print("FMT", d.code, d.out, d.err)


def test_x(project):
    sb = project.sandbox
    sb.seed_tunes({"id": 800001, "name": "Man Tune!"}, {"id": 800002, "name": "man"}, {"id": 800003, "name": "gone"})
    with sb.http() as h:
        a = mk(h, "Awkward One")
        b = mk(h, "Other Pack")
        e = mk(h, "Empty Pack")
        tp(h, 690310, b["id"], "<lora:690310:1> ohwx dog in a park")
        tp(h, 690204, a["id"], "portrait of <lora:690310:1> ohwx dog, borrowed tag")
        tp(
            h,
            690204,
            a["id"],
            "odd <lora:690204:1> ohwx man",
            w=512,
            h=768,
            cfg_scale=7.0,
            seed=0,
            steps=0,
            style=None,
            backend_version=1,
            face_correct=False,
            use_lpw=False,
        )
        tp(
            h,
            690204,
            a["id"],
            "odd <lora:690204:1> ohwx man",
            w=512,
            h=768,
            cfg_scale=7,
            seed=0,
            steps=0,
            backend_version=1,
        )
        tp(h, 690205, a["id"], "ünïcödé 🎉 <lora:690205:1> ohwx woman 日本語 {{eye_color}} {{ bad }} {{}}")
        tp(h, 690205, a["id"], "quotes \"x\" 'y' back\\slash: colon # hash\nnew line <lora:690205:1> ohwx woman")
        tp(h, 690205, a["id"], "weighted <lora:690205:0.8> ohwx woman")
        tp(h, 690205, a["id"], "weighted again <lora:690205:0.8> ohwx woman")
        tp(h, 800001, a["id"], "<lora:800001:1> ohwx Man Tune! hi")
        tp(h, 800002, a["id"], "<lora:800002:1> ohwx man second")
        tp(h, 800003, a["id"], "<lora:800003:1> ohwx gone soon")
        assert h.delete("/tunes/800003").status_code == 200
        tp(h, 690205, a["id"], "weighted <lora:690205:5> ohwx woman big weight")
        tp(h, 690205, a["id"], "ctrl \x01 char <lora:690205:1> ohwx woman")
        tp(h, 690205, a["id"], "del \x7f char <lora:690205:1> ohwx woman")
        tp(h, 690205, a["id"], "cr\r\nline <lora:690205:1> ohwx woman")
        tp(h, 690205, a["id"], "brace {<lora:690205:1> ohwx woman}")
    show(project)
