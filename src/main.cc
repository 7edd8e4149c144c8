#include "jailwarden/cli/verbs.h"

int main(int argc, char** argv) { return jailwarden::cli::Main(argc, argv); }
