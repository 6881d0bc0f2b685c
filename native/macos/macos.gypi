# macOS-only module with the start-up process scan (native/macos/proc_seed*.cc), loaded by
# src/sources/mac-live.ts. Included by ../../binding.gyp; paths are relative to this file.
{
  "conditions": [
    ["OS=='mac'", {
      "targets": [
        {
          "target_name": "keysentry_macos",
          "sources": ["seed_module.cc", "proc_seed.cc", "proc_seed_js.cc"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
          "libraries": ["-lbsm"],
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }
      ]
    }]
  ]
}
