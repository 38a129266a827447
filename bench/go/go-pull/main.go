// Section 4's pull + unpack done by containerd's own Go client in one process (it overlaps fetching and
// unpacking), the reference the issue sets for our pull. Built from Debian's packaged sources by
// bench/go-client.ts; never part of the SDK.
//
// Usage: go-pull <address> <namespace> <reference>   (a plain-HTTP registry)
// Prints {"ms": <connect + pull + unpack, ms>}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/remotes/docker"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go-pull <address> <namespace> <reference>")
		os.Exit(2)
	}
	start := time.Now()
	client, err := containerd.New(os.Args[1])
	must(err)
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), os.Args[2])
	resolver := docker.NewResolver(docker.ResolverOptions{PlainHTTP: true})
	_, err = client.Pull(ctx, os.Args[3], containerd.WithPullUnpack, containerd.WithResolver(resolver))
	must(err)
	must(json.NewEncoder(os.Stdout).Encode(map[string]float64{"ms": float64(time.Since(start).Microseconds()) / 1000}))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
