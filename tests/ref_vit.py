#!/usr/bin/python3
"""Reference tensors for hasten's ViT from an independent PyTorch implementation.

Reads the weights, images, kept-token indices and output gradients that hasten wrote
(tests/data/vit_ref_inputs.h5, made by `build/tests/test_vit_ref --write-inputs`), builds the
same tiny ViT with torch (patch embedding resized with torch's own bilinear interpolation and
torch.linalg.pinv, position grid and images resized with F.interpolate), and stores the
outputs and the gradients of every parameter in tests/data/vit_ref.h5, which is committed.

usage: /usr/bin/python3 tests/ref_vit.py IN.h5 OUT.h5   (needs python3-torch, python3-h5py)
"""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def bilinear_basis(p_out, p_in):
    """B such that resize(x) = B x for p_in x p_in patches (TF-style bilinear, half-pixel)."""
    eye = torch.eye(p_in * p_in).reshape(-1, 1, p_in, p_in)
    out = F.interpolate(eye, size=(p_out, p_out), mode="bilinear", align_corners=False)
    return out.reshape(p_in * p_in, p_out * p_out).T


def forward(P, cfg, img, idx, prm):
    S, CH, P0, C, L, NH = (cfg[k] for k in ("S", "CH", "P0", "C", "L", "NH"))
    G0, G = S // P0, (2 * S + P) // (2 * P)
    Bn = img.shape[0]

    w = prm["patch_embed.proj.weight"]
    if P != P0:
        M = torch.linalg.pinv(bilinear_basis(P, P0).T)          # [P*P, P0*P0]
        w = (w.reshape(C * CH, P0 * P0) @ M.T).reshape(C, CH, P, P)
    x = img
    if G * P != S:
        x = F.interpolate(x, size=(G * P, G * P), mode="bilinear", align_corners=False)
    emb = F.conv2d(x, w, prm["patch_embed.proj.bias"], stride=P)   # [B, C, G, G]
    emb = emb.flatten(2).transpose(1, 2)                           # [B, G*G, C]
    pos = prm["pos_embed"].reshape(G0, G0, C).permute(2, 0, 1)[None]
    if G != G0:
        pos = F.interpolate(pos, size=(G, G), mode="bilinear", align_corners=False)
    pos = pos[0].permute(1, 2, 0).reshape(G * G, C)
    tok = emb + pos[None]
    tok = torch.stack([tok[b, idx[b]] for b in range(Bn)])      # token dropout after pos
    cls = prm["cls_token"].reshape(1, 1, C).expand(Bn, 1, C)
    x = torch.cat([cls, tok], dim=1)

    hs = C // NH
    for l in range(L):
        p = lambda n: prm[f"blocks.{l}.{n}"]
        h = F.layer_norm(x, (C,), p("norm1.weight"), p("norm1.bias"), eps=1e-6)
        qkv = F.linear(h, p("attn.qkv.weight"), p("attn.qkv.bias"))
        q, k, v = qkv.reshape(Bn, -1, 3, NH, hs).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / hs ** 0.5, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, -1, C)
        x = x + F.linear(y, p("attn.proj.weight"), p("attn.proj.bias"))
        h = F.layer_norm(x, (C,), p("norm2.weight"), p("norm2.bias"), eps=1e-6)
        h = F.linear(F.gelu(F.linear(h, p("mlp.fc1.weight"), p("mlp.fc1.bias"))),
                     p("mlp.fc2.weight"), p("mlp.fc2.bias"))
        x = x + h
    x = F.layer_norm(x, (C,), prm["norm.weight"], prm["norm.bias"], eps=1e-6)
    return x[:, 0]


def head(z, prm):
    """projector: Linear(bias) BN GELU Linear(no bias) BN(affine-free) L2 WN-linear."""
    z = F.linear(z, prm["head.0.weight"], prm["head.0.bias"])
    z = F.batch_norm(z, None, None, prm["head.1.weight"], prm["head.1.bias"], training=True,
                     eps=1e-5)
    z = F.gelu(z)
    z = F.linear(z, prm["head.3.weight"])
    z = F.batch_norm(z, None, None, None, None, training=True, eps=1e-5)
    z = F.normalize(z, dim=1, eps=1e-12)
    v, g = prm["head.6.weight_v"], prm["head.6.weight_g"]
    w = g[:, None] * v / v.norm(dim=1, keepdim=True)
    return F.linear(z, w)


def main(src, dst):
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as o:
        cfg = {k: int(f.attrs[k]) for k in ("S", "CH", "P0", "C", "L", "NH")}
        for k, v in f.attrs.items():
            o.attrs[k] = v
        o.attrs["reference"] = "tests/ref_vit.py, torch " + torch.__version__ + ", float64"
        f.copy("params", o)
        for name in f["cases"]:
            c = f["cases"][name]
            prm = {k: torch.tensor(np.array(v), dtype=torch.float64, requires_grad=True)
                   for k, v in f["params"].items()}
            img = torch.tensor(np.array(c["img"]), dtype=torch.float64)
            idx = torch.tensor(np.array(c["idx"]), dtype=torch.long)
            dout = torch.tensor(np.array(c["dout"]), dtype=torch.float64)
            out = head(forward(int(c.attrs["P"]), cfg, img, idx, prm), prm)
            (out * dout).sum().backward()
            oc = o.create_group("cases/" + name)
            for k, v in c.attrs.items():
                oc.attrs[k] = v
            for k in ("img", "idx", "dout"):
                oc.create_dataset(k, data=np.array(c[k]))
            oc.create_dataset("out", data=out.detach().numpy().astype(np.float32))
            for k, v in prm.items():
                oc.create_dataset("grads/" + k, data=v.grad.numpy().astype(np.float32))
            print(f"case {name}: P={int(c.attrs['P'])} out norm {out.norm():.6g}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
