// Unary latency of containerd's own Go client, the reference of bench section 1 (ours ≤ 1.5× the Go
// client). Built from Debian's packaged sources (golang-github-containerd-containerd-dev) by
// bench/go/go-client.ts; never part of the SDK.
//
// Usage:
//
//	go-unary <address> <namespace> <count>   connect once, then count × Version and count × Containers.List;
//	                                         prints {"versionMedianUs": …, "listMedianUs": …}
//	go-unary <address> <namespace>           connect once, then read commands from stdin, one a line:
//	                                         "version <n>" or "list <n>" runs n calls and prints
//	                                         {"us":[…]}, each call's latency in µs (the bench interleaves
//	                                         these blocks with its own clients' calls on one connection)
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
)

type call func(ctx context.Context) error

func calls(client *containerd.Client) map[string]call {
	return map[string]call{
		"version": func(ctx context.Context) error {
			_, err := client.Version(ctx)
			return err
		},
		"list": func(ctx context.Context) error {
			_, err := client.ContainerService().List(ctx)
			return err
		},
	}
}

// sample runs fn n times in a row and returns each call's latency in µs.
func sample(ctx context.Context, fn call, n int) ([]float64, error) {
	us := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := fn(ctx); err != nil {
			return nil, err
		}
		us = append(us, float64(time.Since(start).Nanoseconds())/1000)
	}
	return us, nil
}

func median(values []float64) float64 {
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go-unary <address> <namespace> [count]")
		os.Exit(2)
	}
	client, err := containerd.New(os.Args[1])
	must(err)
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), os.Args[2])
	byName := calls(client)
	out := json.NewEncoder(os.Stdout)

	if len(os.Args) == 4 {
		count, err := strconv.Atoi(os.Args[3])
		must(err)
		version, err := sample(ctx, byName["version"], count)
		must(err)
		list, err := sample(ctx, byName["list"], count)
		must(err)
		must(out.Encode(map[string]float64{"versionMedianUs": median(version), "listMedianUs": median(list)}))
		return
	}

	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) != 2 {
			must(fmt.Errorf("bad command %q: want \"version <n>\" or \"list <n>\"", lines.Text()))
		}
		fn, ok := byName[fields[0]]
		if !ok {
			must(fmt.Errorf("unknown call %q: want version or list", fields[0]))
		}
		n, err := strconv.Atoi(fields[1])
		must(err)
		us, err := sample(ctx, fn, n)
		must(err)
		must(out.Encode(map[string][]float64{"us": us}))
	}
	must(lines.Err())
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
