// GCC 13's <iostream> makes every translation unit call std::ios_base_library_init()
// (versioned GLIBCXX_3.4.32). Debian 12's libstdc++ (GCC 12) lacks it; this provides it.
#include <ios>
namespace std { void ios_base_library_init() { static ios_base::Init init; } }
