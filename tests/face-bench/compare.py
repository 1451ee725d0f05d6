#!/usr/bin/env python3
"""Face-check speed, side by side in one run on the same images, one thread:

1. ours: the kiosk pipeline (tract-onnx), via the Rust bench binary
   ``bench-face --json`` (subprocess);
2. ort: the same CenterFace + 5-point alignment + MobileFaceNet ONNX models on
   onnxruntime (intra_op=1, inter_op=1), with the pre-processing of
   ``shared/models/MODELS.md`` and the detector input size of our
   ``FaceConfig`` default (320x256, letterboxed top-left, BGR 0-255 NCHW;
   MobileFaceNet NHWC RGB (x - 127.5) / 128);
3. dlib: ``face_recognition`` (HOG detector, ``face_locations(model="hog")``,
   then ``face_encodings`` = 5-point landmarks + dlib ResNet, 128-d).

Every image is decoded once, outside timing. Each stage is timed per image
(median of the repeats); the summary is the median (and mean) of the
per-image medians. Stages: ``detect`` (resize + network + decode + NMS),
``align`` (similarity + 112x112 warp), ``embed_1`` / ``embed_2`` (one crop /
a batch of two), ``frame`` = detect + align + embed one crop of one frame; ``detect_tracked``
and ``frame_tracked`` the same with tracking (CenterFace at ``track_input``²
(96, from ours' JSON) on a square region 1.5x the previous frame's face box;
for a still image the previous box is its own first detection), done the
same way on both.
``frame_full_res`` (dlib only, ``--dlib-full-res``): face_recognition's
defaults on the photo as it is (HOG with upsample 1 on up to 2280 px), once.
For dlib, ``detect`` = downscale to the same 320x256 box + HOG (upsample 1,
its default: it finds faces down to ~40 px there), ``embed_1`` = landmarks +
encoding of one face on the full-resolution image, ``frame`` = both.

``live_frame``: what a live loop does per camera frame, no embedding (the
kiosk embeds once per attempt, ``embed_2``): ours = the engine's
``LiveSearch`` (region around the tracked face every frame; the whole frame
to acquire it, and every 8th frame for the one-face check, at half or three
quarters of the detector input when a face half the citizen's still spans
20 network pixels there) + alignment, averaged over a run of 32 frames
(about two seconds at 15 fps); ort = the straightforward loop, whole-frame
detection + alignment every frame, and ``live_frame_tracked`` = ort doing
our tracking the same way; dlib =
``face_locations`` with its defaults (HOG, upsample 1) on the frame +
``face_landmarks(model="small")`` (5 points). ``--frame WxH`` first fits
every photo into a WxH camera frame (scaled down, centred on grey, outside
timing), as the kiosk's camera delivers them; then dlib's ``detect`` runs on
that frame with its defaults too.

Run through ``run.sh`` (makes the venv, builds the binary). Prints a table
and writes JSON (``--out``). Times and counts only, no face data.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

# One thread for any BLAS/OpenMP pool, before numpy/dlib load.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
STAGES = ["detect", "align", "embed_1", "embed_2", "frame", "detect_tracked", "frame_tracked",
          "live_frame", "live_frame_tracked"]
# As kiosk::face::detect and kiosk::face::engine; TRACK_INPUT is replaced by
# ours' "track_input" when ours runs first.
TRACK_INPUT, TRACK_ROI_SCALE, MIN_CHECK_FACE_PX = 96, 1.5, 20.0
FULL_SEARCH_EVERY = 8
LIVE_RUN = 4 * FULL_SEARCH_EVERY  # as bench-face
BACKGROUND_FACE_RATIO = 0.5  # QualityConfig default


def now_ms():
    return time.perf_counter() * 1e3


def camera_frame(im, size):
    """The photo fitted into a WxH camera frame: scaled down, centred on grey."""
    w, h = size
    scale = min(w / im.width, h / im.height, 1.0)
    sw = min(max(round(im.width * scale), 1), w)
    sh = min(max(round(im.height * scale), 1), h)
    canvas = Image.new("RGB", (w, h), (118, 118, 118))
    canvas.paste(im.resize((sw, sh), Image.BILINEAR), ((w - sw) // 2, (h - sh) // 2))
    return canvas


def load_images(d, limit, frame=None):
    files = sorted(
        p for p in Path(d).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if limit:
        files = files[:limit]
    out = []
    for p in files:
        im = ImageOps.exif_transpose(Image.open(p)).convert("RGB")
        if frame:
            im = camera_frame(im, frame)
        out.append((p.name, im, np.asarray(im)))
    return out


# ---------------------------------------------------------------- onnxruntime


class OrtPipeline:
    def __init__(self, models, det_w, det_h, thr=0.5, nms_iou=0.3):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        prov = ["CPUExecutionProvider"]
        self.det = ort.InferenceSession(str(Path(models) / "centerface.onnx"), so, providers=prov)
        self.emb = ort.InferenceSession(str(Path(models) / "mobilefacenet.onnx"), so, providers=prov)
        self.det_in = self.det.get_inputs()[0].name
        self.emb_in = self.emb.get_inputs()[0].name
        self.w, self.h, self.thr, self.nms_iou = det_w, det_h, thr, nms_iou
        self.version = ort.__version__

    def detect(self, im):
        """Faces as (score, box[4], landmarks[5,2]) in frame coordinates."""
        fw, fh = im.size
        scale = min(self.w / fw, self.h / fh)
        return self._detect(im, (self.w, self.h), scale, (0, 0))

    def check_input(self, size, min_side):
        """As Detector::check_input: half or 3/4 of the input when a face of
        min_side still spans MIN_CHECK_FACE_PX there, else the input."""
        fw, fh = size
        for k in (2, 3):
            w = -(-(self.w * k // 4) // 32) * 32
            h = -(-(self.h * k // 4) // 32) * 32
            if w < self.w and h <= self.h and min_side * min(w / fw, h / fh) >= MIN_CHECK_FACE_PX:
                return w, h
        return self.w, self.h

    def detect_faces_of(self, im, min_side):
        w, h = self.check_input(im.size, min_side)
        fw, fh = im.size
        return self._detect(im, (w, h), min(w / fw, h / fh), (0, 0))

    def detect_near(self, im, box):
        """Tracking as ours: a square region, 1.5x the previous box, at
        TRACK_INPUT x TRACK_INPUT."""
        side = max(box[2] - box[0], box[3] - box[1]) * TRACK_ROI_SCALE
        side = round(min(max(side, TRACK_INPUT), max(im.size)))
        x0 = round((box[0] + box[2]) / 2 - side / 2)
        y0 = round((box[1] + box[3]) / 2 - side / 2)
        roi = im.crop((x0, y0, x0 + side, y0 + side))  # outside: black
        dets = self._detect(roi, (TRACK_INPUT, TRACK_INPUT), TRACK_INPUT / side, (x0, y0))
        return dets

    def _detect(self, im, size, scale, origin):
        W, H = size
        fw, fh = im.size
        rw = min(max(int(round(fw * scale)), 1), W)
        rh = min(max(int(round(fh * scale)), 1), H)
        # Box-average when shrinking, bilinear when enlarging (as ours).
        small = im.resize((rw, rh), Image.BOX if scale < 1 else Image.BILINEAR)
        x = np.zeros((1, 3, H, W), dtype=np.float32)
        a = np.asarray(small, dtype=np.float32)
        x[0, :, :rh, :rw] = a[:, :, ::-1].transpose(2, 0, 1)  # RGB -> BGR planar
        heat, scl, off, lms = self.det.run(None, {self.det_in: x})
        heat = heat[0, 0]
        ii, jj = np.nonzero(heat > self.thr)
        if len(ii) == 0:
            return []
        s0 = np.exp(scl[0, 0, ii, jj]) * 4.0
        s1 = np.exp(scl[0, 1, ii, jj]) * 4.0
        x1 = np.maximum(0, (jj + off[0, 1, ii, jj] + 0.5) * 4.0 - s1 / 2)
        y1 = np.maximum(0, (ii + off[0, 0, ii, jj] + 0.5) * 4.0 - s0 / 2)
        x2 = np.minimum(x1 + s1, W)
        y2 = np.minimum(y1 + s0, H)
        lm = lms[0][:, ii, jj].T  # (n, 10)
        lx = lm[:, 1::2] * s1[:, None] + x1[:, None]  # (n, 5)
        ly = lm[:, 0::2] * s0[:, None] + y1[:, None]
        ox, oy = origin
        boxes = np.stack([x1, y1, x2, y2], 1) / scale + np.array([ox, oy, ox, oy])
        pts = np.stack([lx, ly], 2) / scale + np.array([ox, oy])
        scores = heat[ii, jj]
        order = np.argsort(-scores, kind="stable")
        keep = []
        for k in order:
            if all(iou(boxes[k], boxes[m]) <= self.nms_iou for m in keep):
                keep.append(k)
        return [(float(scores[k]), boxes[k], pts[k]) for k in keep]

    def embed(self, crops):
        x = np.stack([np.asarray(c, dtype=np.float32) for c in crops])
        x = (x - 127.5) / 128.0
        e = self.emb.run(None, {self.emb_in: x})[0]
        return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0.0 if union <= 0 else inter / union


def largest(dets):
    return max(dets, key=lambda d: (d[1][2] - d[1][0]) * (d[1][3] - d[1][1])) if dets else None


def align(im, pts, size=112):
    """Umeyama similarity (no reflection) landmarks -> template, bilinear warp."""
    src = np.asarray(pts, dtype=np.float64)
    dst = TEMPLATE * (size / 112.0)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    var = (s**2).sum()
    a = (s * d).sum() / var
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / var
    tx = md[0] - (a * ms[0] - b * ms[1])
    ty = md[1] - (b * ms[0] + a * ms[1])
    # Inverse (crop -> frame), in integer pixel-centre coordinates ...
    n = a * a + b * b
    ia, ib = a / n, -b / n
    itx, ity = -(ia * tx - ib * ty), -(ib * tx + ia * ty)
    # ... converted to PIL's half-pixel convention.
    c = itx + 0.5 - 0.5 * (ia - ib)
    f = ity + 0.5 - 0.5 * (ib + ia)
    return im.transform((size, size), Image.AFFINE, (ia, -ib, c, ib, ia, f), Image.BILINEAR)


def live_tracked(p, im, n=LIVE_RUN):
    """Our engine's LiveSearch on n frames: the whole frame to acquire the
    face and for the periodic one-face check (at a lower resolution when
    that still sees a face half the tracked one's size), the region around
    the tracked face on every frame, alignment of the face found."""
    prev, since = None, 0
    for _ in range(n):
        whole = None
        if prev is None or since + 1 >= FULL_SEARCH_EVERY:
            since = 0
            min_side = 0.0 if prev is None else (prev[2] - prev[0]) * BACKGROUND_FACE_RATIO
            whole = largest(p.detect_faces_of(im, min_side))
            if whole is None:
                prev = None
                continue
            if prev is None or iou(prev, whole[1]) < 0.3:
                prev = whole[1]
            if min_side > 0:
                whole = None  # a coarse check's landmarks are not used
        else:
            since += 1
        d = largest(p.detect_near(im, prev))
        if d is None:
            d = whole or largest(p.detect(im))
            since = 0
        if d is None:
            prev = None
            continue
        prev = d[1]
        align(im, d[2])


def bench_ort(images, models, det_size, repeats):
    p = OrtPipeline(models, *det_size)
    per_stage = {k: [] for k in STAGES}
    per_image, no_face = [], 0
    t_all = time.perf_counter()
    for name, im, _ in images:
        d = largest(p.detect(im))  # warm-up
        if d is None:
            no_face += 1
            per_image.append({"file": name, "face": False})
            continue
        crop = align(im, d[2])
        p.embed([crop, crop])
        s = {k: [] for k in STAGES}
        for _ in range(repeats):
            t = now_ms()
            p.detect(im)
            s["detect"].append(now_ms() - t)
            t = now_ms()
            align(im, d[2])
            s["align"].append(now_ms() - t)
            t = now_ms()
            p.embed([crop])
            s["embed_1"].append(now_ms() - t)
            t = now_ms()
            p.embed([crop, crop])
            s["embed_2"].append(now_ms() - t)
            t = now_ms()
            dd = largest(p.detect(im))
            if dd is not None:
                p.embed([align(im, dd[2])])
            s["frame"].append(now_ms() - t)
            t = now_ms()
            p.detect_near(im, d[1])
            s["detect_tracked"].append(now_ms() - t)
            t = now_ms()
            dd = largest(p.detect_near(im, d[1])) or largest(p.detect(im))
            if dd is not None:
                p.embed([align(im, dd[2])])
            s["frame_tracked"].append(now_ms() - t)
            t = now_ms()
            for _ in range(FULL_SEARCH_EVERY):
                dd = largest(p.detect(im))
                if dd is not None:
                    align(im, dd[2])
            s["live_frame"].append((now_ms() - t) / FULL_SEARCH_EVERY)
            t = now_ms()
            live_tracked(p, im)
            s["live_frame_tracked"].append((now_ms() - t) / LIVE_RUN)
        rec = {"file": name, "face": True}
        for k in STAGES:
            m = statistics.median(s[k])
            per_stage[k].append(m)
            rec[k + "_ms"] = m
        per_image.append(rec)
    return summarise("onnxruntime " + p.version, per_stage, per_image, no_face, repeats, t_all)


# ----------------------------------------------------------------------- dlib


def bench_dlib(images, det_size, repeats, full_res=False, camera=False):
    import dlib
    import face_recognition as fr

    W, H = det_size
    per_stage = {k: [] for k in ("detect", "embed_1", "frame", "live_frame")}
    if full_res:
        per_stage["frame_full_res"] = []
    per_image, no_face = [], 0

    def detect(im):
        if camera:
            # A camera frame: face_recognition's defaults on it as it is.
            return fr.face_locations(np.asarray(im), number_of_times_to_upsample=1, model="hog")
        fw, fh = im.size
        scale = min(W / fw, H / fh)
        small = np.asarray(
            im.resize((max(1, round(fw * scale)), max(1, round(fh * scale))), Image.BOX)
        )
        locs = fr.face_locations(small, number_of_times_to_upsample=1, model="hog")
        # (top, right, bottom, left) back to full resolution.
        return [tuple(int(round(v / scale)) for v in l) for l in locs]

    def biggest(locs):
        return max(locs, key=lambda l: (l[2] - l[0]) * (l[1] - l[3])) if locs else None

    t_all = time.perf_counter()
    for name, im, arr in images:
        loc = biggest(detect(im))
        if loc is None:
            no_face += 1
            per_image.append({"file": name, "face": False})
            continue
        fr.face_encodings(arr, [loc])
        s = {k: [] for k in per_stage}
        for _ in range(repeats):
            t = now_ms()
            detect(im)
            s["detect"].append(now_ms() - t)
            t = now_ms()
            fr.face_encodings(arr, [loc], num_jitters=1, model="small")
            s["embed_1"].append(now_ms() - t)
            t = now_ms()
            l2 = biggest(detect(im))
            if l2 is not None:
                fr.face_encodings(arr, [l2], num_jitters=1, model="small")
            s["frame"].append(now_ms() - t)
            t = now_ms()
            l2 = biggest(detect(im))
            if l2 is not None:
                fr.face_landmarks(arr, [l2], model="small")
            s["live_frame"].append(now_ms() - t)
        if full_res:
            # face_recognition's defaults on the photo as it is (once: slow).
            t = now_ms()
            l3 = biggest(fr.face_locations(arr, number_of_times_to_upsample=1, model="hog"))
            if l3 is not None:
                fr.face_encodings(arr, [l3], num_jitters=1, model="small")
            s["frame_full_res"].append(now_ms() - t)
        rec = {"file": name, "face": True}
        for k in per_stage:
            m = statistics.median(s[k])
            per_stage[k].append(m)
            rec[k + "_ms"] = m
        per_image.append(rec)
    return summarise(
        "dlib %s face_recognition (HOG)" % dlib.__version__, per_stage, per_image, no_face, repeats, t_all
    )


def summarise(impl, per_stage, per_image, no_face, repeats, t_all):
    return {
        "impl": impl,
        "threads": 1,
        "repeats": repeats,
        "images": len(per_image),
        "no_face": no_face,
        "wall_s": time.perf_counter() - t_all,
        "stages": {
            k: {"median_ms": statistics.median(v), "mean_ms": statistics.fmean(v)}
            for k, v in per_stage.items()
            if v
        },
        "per_image": per_image,
    }


# ------------------------------------------------------------------------ ours


def bench_ours(bin_path, images_dir, models, repeats, limit, det_size, frame):
    cmd = [str(bin_path), "--images", str(images_dir), "--models", str(models),
           "--repeats", str(repeats), "--det", "%dx%d" % det_size, "--json"]
    if frame:
        cmd += ["--frame", "%dx%d" % frame]
    if limit:
        cmd += ["--limit", str(limit)]
    r = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(r.stdout)


def machine():
    model = platform.processor()
    try:
        for line in subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version()}


def fmt(x):
    return "—" if x is None else ("%.1f" % x)


def main():
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", default=root.parent / "shared/faces/pairs")
    ap.add_argument("--models", default=root.parent / "shared/models")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dlib-repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="first K images only")
    ap.add_argument("--det", default="320x256", help="detector input WxH (our FaceConfig default)")
    ap.add_argument("--frame", default="", help="fit each photo into a WxH camera frame first (e.g. 640x480)")
    ap.add_argument("--bench-bin", help="path to the bench-face binary")
    ap.add_argument("--ours-build", default="", help="how the binary was built (recorded)")
    ap.add_argument("--dlib-full-res", action="store_true",
                    help="also time dlib's defaults on the full-resolution photo (once per image)")
    ap.add_argument("--skip", action="append", default=[], choices=["ours", "ort", "dlib"])
    ap.add_argument("--out", default=os.environ.get("TMPDIR", "/tmp") + "/face-bench.json")
    a = ap.parse_args()
    det_size = tuple(int(v) for v in a.det.split("x"))
    frame = tuple(int(v) for v in a.frame.split("x")) if a.frame else None

    images = load_images(a.images, a.limit, frame)
    res = {"machine": machine(), "images_dir": str(a.images), "detector_input": det_size,
           "frame": frame}
    if "ours" not in a.skip:
        if not a.bench_bin:
            sys.exit("--bench-bin is required (run.sh passes it)")
        print("ours (tract) ...", file=sys.stderr)
        res["ours"] = bench_ours(a.bench_bin, a.images, a.models, a.repeats, a.limit, det_size, frame)
        res["ours"]["build"] = a.ours_build
        global TRACK_INPUT
        TRACK_INPUT = res["ours"].get("track_input", TRACK_INPUT)
    if "ort" not in a.skip:
        print("onnxruntime ...", file=sys.stderr)
        res["ort"] = bench_ort(images, a.models, det_size, a.repeats)
    if "dlib" not in a.skip:
        print("dlib ...", file=sys.stderr)
        res["dlib"] = bench_dlib(images, det_size, a.dlib_repeats, a.dlib_full_res, bool(frame))

    def med(impl, stage):
        return res.get(impl, {}).get("stages", {}).get(stage, {}).get("median_ms")

    ratios = {}
    m = res["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores; one thread each; {len(images)} images "
          f"from {a.images}{' fitted into ' + a.frame + ' frames' if frame else ''}; detector input {a.det}; "
          "medians over images of per-image medians (ms)")
    print("| stage | ours (tract) | onnxruntime | dlib | ours / ort | dlib / ours |")
    print("|---|---|---|---|---|---|")
    for k in STAGES + (["frame_full_res"] if a.dlib_full_res else []):
        # Our live loop tracks; set it against ort doing the same too.
        o = med("ours", "live_frame" if k == "live_frame_tracked" else k)
        r, d = med("ort", k), med("dlib", k)
        q1 = o / r if o and r else None
        q2 = d / o if o and d else None
        ratios[k] = {"ours_over_ort": q1, "dlib_over_ours": q2}
        print(f"| {k} | {fmt(o)} | {fmt(r)} | {fmt(d)} | "
              f"{'—' if q1 is None else '%.2f' % q1} | {'—' if q2 is None else '%.1f×' % q2} |")
    for impl in ("ours", "ort", "dlib"):
        if impl in res:
            print(f"{impl}: {res[impl]['impl']}; images without a face: {res[impl]['no_face']}; "
                  f"wall {res[impl]['wall_s']:.0f} s", file=sys.stderr)
    res["ratios"] = ratios
    Path(a.out).write_text(json.dumps(res, indent=1, default=str))
    print(f"JSON: {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
