"""Generate the Python gRPC stubs of the gateway from the repository's `proto/` directory.

Usage: python3 generate_stubs.py [OUT_DIR]

Writes `kinde/management/v1/*_pb2.py` and `*_pb2_grpc.py` under OUT_DIR (default: `generated/`
beside this file, which git ignores). Needs grpcio-tools. `kinde_client.py` calls
`ensure_stubs()` itself, so running this by hand is only needed to generate them elsewhere.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
DEFAULT_OUT = HERE / "generated"
# Written last: its presence means a complete generation, its time that of the newest input.
STAMP = ".generated"


def proto_files() -> list[Path]:
    """The gateway's .proto files."""
    return sorted((PROTO_ROOT / "kinde" / "management" / "v1").glob("*.proto"))


def is_fresh(out: Path) -> bool:
    """Whether `out` holds stubs generated from the current .proto files."""
    stamp = out / STAMP
    if not stamp.exists():
        return False
    built = stamp.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in proto_files())


def generate(out: Path) -> None:
    """Runs protoc (from grpcio-tools) over every .proto file into `out`."""
    try:
        from grpc_tools import protoc
    except ImportError:
        raise SystemExit(
            "error: grpcio-tools is not installed: pip install -r scripts/requirements-test.txt"
        ) from None
    import importlib.resources

    files = proto_files()
    if not files:
        raise SystemExit(f"error: no .proto files under {PROTO_ROOT}")
    out.mkdir(parents=True, exist_ok=True)
    (out / STAMP).unlink(missing_ok=True)
    # The well-known types (google/protobuf/struct.proto) ship inside grpcio-tools.
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *map(str, files),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("error: protoc failed to generate the stubs (see above)")
    (out / STAMP).write_text(f"generated from {len(files)} files under {PROTO_ROOT}\n")


def ensure_stubs(out: Path = DEFAULT_OUT) -> None:
    """Generates the stubs into `out` unless they are up to date, and makes them importable."""
    if not is_fresh(out):
        generate(out)
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))


if __name__ == "__main__":
    target = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else DEFAULT_OUT
    generate(target)
    print(f"stubs for {len(proto_files())} .proto files written to {target}")
