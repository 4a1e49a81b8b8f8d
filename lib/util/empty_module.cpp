// Placeholder translation unit for modules that have no sources yet.
namespace wb::util { [[maybe_unused]] static int empty_module_ = 0; }
