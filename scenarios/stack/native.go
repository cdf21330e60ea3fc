package stack

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// nativeImage is a FROM scratch image of programs from Debian's packages
// (redis-server, postgres, haproxy): each binary with its dynamic loader and
// the libraries ldd lists, the data files it reads at run time, and files
// made for the image. There is no registry here, so no base image either.
type nativeImage struct {
	name string // image name: gauntlet-harness/<name>
	// bins maps the path in the image to the host binary: the binary, its
	// loader (PT_INTERP) and every library ldd lists go into the image, the
	// libraries at the paths the loader looks them up at.
	bins map[string]string
	// trees are host directories copied to the same path, regular files
	// only (links followed); skip drops entries by base name.
	trees []string
	skip  func(name string) bool
	// files are made for the image (a pre-initialised data dir, a passwd).
	files []imageFile
	// dirs are empty directories the program writes to (mode 1777).
	dirs []string
	// owner, when set ("uid:gid"), owns every file marked owned: they are
	// copied with COPY --chown, as the classic builder gives everything
	// else to root.
	owner string
	// tail is the Dockerfile after the COPY lines (USER, EXPOSE, ENTRYPOINT).
	tail string
}

// imageFile is one file or directory of a FROM scratch image, at its
// absolute path.
type imageFile struct {
	path  string
	mode  int64
	data  []byte
	dir   bool
	owned bool // copied with the image's owner (nativeImage.owner)
}

// collect gathers the image's files: binaries, their loaders and libraries,
// trees and made files, each path once.
func (im nativeImage) collect(ctx context.Context) ([]imageFile, error) {
	seen := map[string]bool{}
	var files []imageFile
	add := func(f imageFile) {
		if !seen[f.path] {
			seen[f.path] = true
			files = append(files, f)
		}
	}
	read := func(path, at string, mode int64) error {
		data, err := os.ReadFile(path) // follows links: the image gets the real file
		if err != nil {
			return err
		}
		add(imageFile{path: at, mode: mode, data: data})
		return nil
	}
	targets := make([]string, 0, len(im.bins))
	for at := range im.bins {
		targets = append(targets, at)
	}
	sort.Strings(targets)
	for _, at := range targets {
		host := im.bins[at]
		if err := read(host, at, 0o755); err != nil {
			return nil, err
		}
		libs, err := sharedLibraries(ctx, host)
		if err != nil {
			return nil, err
		}
		for _, lib := range libs {
			if err := read(lib, lib, 0o755); err != nil {
				return nil, err
			}
		}
	}
	for _, tree := range im.trees {
		err := filepath.WalkDir(tree, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != tree && im.skip != nil && im.skip(d.Name()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			fi, err := os.Stat(path) // a link's target
			if err != nil || fi.IsDir() {
				return nil // a dangling link or a link to a directory: not needed
			}
			return read(path, path, int64(fi.Mode().Perm()))
		})
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", tree, err)
		}
	}
	for _, f := range im.files {
		add(f)
	}
	return files, nil
}

// sharedLibraries are the loader (PT_INTERP) and every library ldd lists
// for the ELF binary bin.
func sharedLibraries(ctx context.Context, bin string) ([]string, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("read interpreter of %s: %w", bin, err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	f.Close()
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	paths := LddPaths(out)
	if interp != "" {
		paths = append(paths, interp)
	}
	return paths, nil
}

// LddPaths picks the absolute library paths out of ldd's output ("libc.so.6 =>
// /lib/x86_64-linux-gnu/libc.so.6 (0x...)", "/lib64/ld-linux-x86-64.so.2
// (0x...)"); the vDSO has no file and is skipped. Sorted, without duplicates.
func LddPaths(out []byte) []string {
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, tok := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(tok, "/") {
				set[tok] = true
				break
			}
		}
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// Dockerfile copies the files in (the owned ones with their owner) and ends
// with the image's own lines.
func (im nativeImage) Dockerfile() string {
	df := "FROM scratch\nCOPY rootfs/ /\n"
	if im.owner != "" {
		df += fmt.Sprintf("COPY --chown=%s owned/ /\n", im.owner)
	}
	return df + im.tail
}

// context is the build context: the Dockerfile, rootfs/ and owned/.
func (im nativeImage) context(files []imageFile) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	write := func(h *tar.Header, data []byte) error {
		h.ModTime = time.Unix(0, 0)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	df := []byte(im.Dockerfile())
	if err := write(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))}, df); err != nil {
		return nil, err
	}
	made := map[string]bool{}
	var mkdirs func(root, dir string, mode int64) error
	mkdirs = func(root, dir string, mode int64) error {
		if dir == "/" || dir == "." || made[root+dir] {
			return nil
		}
		if err := mkdirs(root, filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		made[root+dir] = true
		return write(&tar.Header{Name: root + dir + "/", Mode: mode, Typeflag: tar.TypeDir}, nil)
	}
	for _, d := range im.dirs {
		if err := mkdirs("rootfs", d, 0o1777); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		root := "rootfs"
		if f.owned && im.owner != "" {
			root = "owned"
		}
		if f.dir {
			if err := mkdirs(root, f.path, f.mode); err != nil {
				return nil, err
			}
			continue
		}
		if err := mkdirs(root, filepath.Dir(f.path), 0o755); err != nil {
			return nil, err
		}
		if err := write(&tar.Header{Name: root + f.path, Mode: f.mode, Size: int64(len(f.data))}, f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// build packs the image, labelled like the other images (and so removed with
// them), tagged by its content hash and the run.
func (im nativeImage) build(ctx context.Context, cli *client.Client, log *slog.Logger, labels map[string]string) (string, error) {
	start := time.Now()
	files, err := im.collect(ctx)
	if err != nil {
		return "", fmt.Errorf("%s image: %w", im.name, err)
	}
	h := sha256.New()
	io.WriteString(h, im.Dockerfile())
	for _, f := range files {
		fmt.Fprintf(h, "%s %o %d %v\n", f.path, f.mode, len(f.data), f.owned)
		h.Write(f.data)
	}
	ref := fmt.Sprintf("gauntlet-harness/%s:%s-%s", im.name, hex.EncodeToString(h.Sum(nil))[:12], labels[LabelRun])
	if err := buildImage(ctx, cli, ref, labels, func() (io.Reader, error) { return im.context(files) }); err != nil {
		return "", fmt.Errorf("%s image: %w", im.name, err)
	}
	log.Info("built image", "ref", ref, "files", len(files), "took", time.Since(start).Round(time.Millisecond))
	return ref, nil
}

// debianBinary finds a command from a Debian package, installing the package
// through scripts/apt-ensure.sh when the command is missing.
func debianBinary(ctx context.Context, root, command, pkg string) (string, error) {
	if p, err := exec.LookPath(command); err == nil {
		return p, nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "apt-ensure.sh"), command+":"+pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install %s: %w\n%s", pkg, err, out)
	}
	p, err := exec.LookPath(command)
	if err != nil {
		return "", fmt.Errorf("%s still missing after installing the Debian package %s: %w", command, pkg, err)
	}
	return p, nil
}
