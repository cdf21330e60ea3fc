// Command gauntlet proves a user's own gateway configuration. Each
// subcommand lives in its own package; main only dispatches.
package main

import "os"

func main() { os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr)) }
