#pragma once

// The name `jailwarden serve` shows a container under (docs/oci.md,
// "Names"), chosen by `create` and kept in the record:
//  1. annotation org.jailwarden.name, when the config has it;
//  2. else, when the runtime's parent is conmon creating this very id
//     (conmon's -c/--cid), conmon's -n/--name: podman's container name.
//     podman 4.3 puts the name in no annotation of config.json (checked:
//     its annotations are io.container.manager, io.kubernetes.cri-o.*,
//     io.podman.annotations.* flags and org.opencontainers.image.stopSignal);
//     it hands it to conmon, which runs `create`;
//  3. else "" (the daemon shows the id).
// Not validated here: the daemon checks it like a jail name and falls back
// to the id (docs/oci.md). Thread-compatible; reads /proc only.

#include <map>
#include <string>
#include <vector>

namespace jailwarden::oci {

inline constexpr char kNameAnnotation[] = "org.jailwarden.name";

std::string ContainerName(const std::map<std::string, std::string>& annotations,
                          const std::string& id);

// conmon's container name from its argument vector when it creates `id`
// ("-c ID"/"--cid ID"/"--cid=ID" and "-n NAME"/"--name NAME"/"--name=NAME"),
// else "". Exposed for the tests.
std::string ConmonName(const std::vector<std::string>& argv, const std::string& id);

}  // namespace jailwarden::oci
