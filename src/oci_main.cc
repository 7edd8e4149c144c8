// jailwarden-oci: `jailwarden oci` as a binary of its own (docs/oci.md),
// linking only the oci layer so podman/containerd's three calls per
// container do not load the whole daemon.
#include <iostream>
#include <string>
#include <vector>

#include "jailwarden/oci/oci.h"

int main(int argc, char** argv) {
  return jailwarden::oci::OciMain(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                                  std::cerr);
}
