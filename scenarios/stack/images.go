package stack

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// Binary is one program the stack runs: built from a Go package into a static
// executable, and packed into a FROM scratch image.
type Binary struct {
	Name    string // file name and image name: gateway, mockbin, toxiproxy
	Package string // go build argument
	// Entrypoint is the image's exec-form entrypoint after the binary itself.
	Entrypoint []string
	Expose     []string
}

// Binaries the stack needs. Toxiproxy's server comes from the module cache at
// the version go.mod pins.
var Binaries = []Binary{
	{Name: "gateway", Package: "./gateway", Expose: []string{"8000", "8001"}},
	{Name: "mockbin", Package: "./mockbin", Expose: []string{"8080"}},
	{Name: "toxiproxy", Package: "github.com/Shopify/toxiproxy/v2/cmd/server",
		Entrypoint: []string{"-host", "0.0.0.0", "-port", "8474"}, Expose: []string{"8474"}},
}

// ModuleRoot finds the directory holding go.mod, walking up from the working
// directory (a Ginkgo suite runs in its package directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// BuildBinaries builds every binary statically into dir. A binary already in
// dir is reused as it is: scripts/test-resilience.sh builds them fresh up front
// (GAUNTLET_BIN_DIR), and without it the suite builds into a new temporary dir.
func BuildBinaries(ctx context.Context, log *slog.Logger, root, dir string, bins []Binary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("build binaries: %w", err)
	}
	for _, b := range bins {
		out := filepath.Join(dir, b.Name)
		if _, err := os.Stat(out); err == nil {
			continue
		}
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, b.Package)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", b.Package, err, msg)
		}
		log.Info("built binary", "name", b.Name, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// Images maps a binary name to its local image reference.
type Images map[string]string

// BuildImages packs each binary of dir into a FROM scratch image tagged by the
// binary's hash, labelled for cleanup. The classic builder needs no pull and no
// base image.
// The tag carries the run, so two runs that build the same binary never share
// (and remove) each other's image.
func BuildImages(ctx context.Context, cli *client.Client, log *slog.Logger, dir string, bins []Binary, labels map[string]string) (Images, error) {
	// One image per binary, built side by side: each build is mostly the
	// engine committing layers, and one after another they took half a
	// minute of every run.
	refs := make([]string, len(bins))
	err := parallel(len(bins), func(i int) (err error) {
		refs[i], err = buildBinaryImage(ctx, cli, log, dir, bins[i], labels)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := Images{}
	for i, b := range bins {
		out[b.Name] = refs[i]
	}
	return out, nil
}

// buildBinaryImage builds the FROM scratch image of one static binary.
func buildBinaryImage(ctx context.Context, cli *client.Client, log *slog.Logger, dir string, b Binary, labels map[string]string) (string, error) {
	bin, err := os.ReadFile(filepath.Join(dir, b.Name))
	if err != nil {
		return "", fmt.Errorf("image %s: %w", b.Name, err)
	}
	if err := checkStatic(bin); err != nil {
		return "", fmt.Errorf("image %s: %w", b.Name, err)
	}
	sum := sha256.Sum256(bin)
	ref := fmt.Sprintf("gauntlet-harness/%s:%s-%s", b.Name, hex.EncodeToString(sum[:])[:12], labels[LabelRun])
	start := time.Now()
	if err := buildImage(ctx, cli, ref, labels, func() (io.Reader, error) { return imageContext(b, bin) }); err != nil {
		return "", fmt.Errorf("image %s: %w", b.Name, err)
	}
	log.Info("built image", "ref", ref, "took", time.Since(start).Round(time.Millisecond))
	return ref, nil
}

// buildImage builds the context made by mkContext into ref with the classic
// builder (no base image to pull). NoCache: every step is committed afresh,
// so a build never reuses an image that another run's cleanup may be
// removing at that moment; a build that still meets a vanished image ("No
// such image", seen in CI while the images were built) is tried once more.
func buildImage(ctx context.Context, cli *client.Client, ref string, labels map[string]string, mkContext func() (io.Reader, error)) error {
	for attempt := 1; ; attempt++ {
		buildCtx, err := mkContext()
		if err != nil {
			return err
		}
		resp, err := cli.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{
			Tags: []string{ref}, Remove: true, ForceRemove: true, NoCache: true, Labels: labels, Version: build.BuilderV1,
		})
		if err == nil {
			err = readBuildStream(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			return nil
		}
		if attempt == 2 || !strings.Contains(err.Error(), "No such image") {
			return fmt.Errorf("build: %w", err)
		}
	}
}

// checkStatic refuses a dynamically linked binary: in a FROM scratch image it
// fails with a puzzling "exec /name: no such file or directory".
func checkStatic(bin []byte) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked; build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// Dockerfile of a binary's image: nothing but the binary, run in exec form
// (there is no shell to run anything else).
func Dockerfile(b Binary) string {
	var sb strings.Builder
	sb.WriteString("FROM scratch\n")
	fmt.Fprintf(&sb, "COPY %s /%s\n", b.Name, b.Name)
	// Go's os.TempDir and the gateway's data dir need somewhere writable.
	sb.WriteString("COPY tmp /tmp\nCOPY tmp /data\n")
	for _, p := range b.Expose {
		fmt.Fprintf(&sb, "EXPOSE %s\n", p)
	}
	ep, _ := json.Marshal(append([]string{"/" + b.Name}, b.Entrypoint...))
	fmt.Fprintf(&sb, "ENTRYPOINT %s\n", ep)
	return sb.String()
}

func imageContext(b Binary, bin []byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	df := []byte(Dockerfile(b))
	files := []struct {
		name string
		mode int64
		data []byte
		dir  bool
	}{
		{name: "Dockerfile", mode: 0o644, data: df},
		{name: b.Name, mode: 0o755, data: bin},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}
		if f.dir {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// readBuildStream drains the daemon's JSON progress stream; a build error comes
// as a message in it, not as an HTTP status.
func readBuildStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if msg.Error != "" {
			return errors.New(strings.TrimSpace(msg.Error))
		}
	}
}
