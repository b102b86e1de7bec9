// containerd-pull pulls an image the way the CRI plugin and nerdctl do:
// through containerd's client with unpacking during the pull, so layers
// a snapshotter already holds (remote snapshots) are never fetched. Debian's
// containerd 1.6 `ctr image pull` fetches every layer before unpacking; the
// tests use this instead to see what a Kubernetes node would download.
//
// usage: containerd-pull ADDRESS NAMESPACE SNAPSHOTTER REF
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/remotes/docker"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: containerd-pull ADDRESS NAMESPACE SNAPSHOTTER REF")
		os.Exit(2)
	}
	client, err := containerd.New(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "containerd-pull:", err)
		os.Exit(1)
	}
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), os.Args[2])
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchAllHosts)),
	})
	image, err := client.Pull(ctx, os.Args[4],
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(os.Args[3]),
		containerd.WithResolver(resolver))
	if err != nil {
		fmt.Fprintln(os.Stderr, "containerd-pull:", err)
		os.Exit(1)
	}
	fmt.Println(image.Name())
}
