# Test-only addon (Linux): the macOS translation, error messages and start-up scan compiled
# against this test double, with the core's batch encoder. Included by ../../binding.gyp;
# paths here are relative to this file.
{
  "conditions": [
    ["OS=='linux'", {
      "targets": [
        {
          "target_name": "keysentry_es_test",
          "sources": [
            "src/es_test_addon.cc",
            "src/es_double.cc",
            "src/libproc_linux.cc",
            "../macos/es_translate.cc",
            "../macos/es_errors.cc",
            "../macos/proc_seed.cc",
            "../macos/proc_seed_js.cc",
            "../core/batch.cc"
          ],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "usr/include"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
          "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"]
        }
      ]
    }]
  ]
}
