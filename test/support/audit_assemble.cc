// Runs the audit backend's record assembler (native/linux/audit_parse.cc, the very source the
// addon compiles) over records read from stdin, for test/native-audit-assembly.test.ts.
// Input, one per line: "<record type> <record text>", or "expire" (expire() an hour from now).
// Output: after each input line, one JSON line per exec it completed ({"line": N, ...});
// at the end of the input, {"idle": ..., "discarded": ..., "tracked": ...}.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "audit_parse.h"

namespace {

using keysentry::audit::Assembler;
using keysentry::audit::ExecEvent;

// Record strings are the kernel's bytes: every byte outside printable ASCII is escaped.
std::string json(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void print(size_t line, const ExecEvent& e) {
  std::string args = "[";
  for (size_t i = 0; i < e.args.size(); ++i) args += (i == 0 ? "" : ",") + json(e.args[i]);
  args += "]";
  std::cout << "{\"line\":" << line << ",\"serial\":" << e.serial << ",\"timeNs\":" << e.time_ns << ",\"pid\":" << e.pid
            << ",\"ppid\":" << e.ppid << ",\"uid\":" << e.uid << ",\"euid\":" << e.euid << ",\"gid\":" << e.gid
            << ",\"exe\":" << json(e.exe) << ",\"hasCwd\":" << (e.has_cwd ? "true" : "false") << ",\"cwd\":" << json(e.cwd)
            << ",\"args\":" << args << ",\"argsComplete\":" << (e.args_complete ? "true" : "false") << "}\n";
}

}  // namespace

int main() {
  Assembler assembler{Assembler::Limits{}};
  std::vector<ExecEvent> done;
  std::string input;
  for (size_t line = 0; std::getline(std::cin, input); ++line) {
    if (input == "expire") {
      assembler.expire(Assembler::Clock::now() + std::chrono::hours(1), done);
    } else {
      const size_t space = input.find(' ');
      if (space == std::string::npos) return 2;
      assembler.add(std::stoi(input.substr(0, space)), std::string_view(input).substr(space + 1), done);
    }
    for (const ExecEvent& e : done) print(line, e);
    done.clear();
  }
  std::cout << "{\"idle\":" << (assembler.idle() ? "true" : "false") << ",\"discarded\":" << assembler.takeDiscarded()
            << ",\"tracked\":" << assembler.trackedSerials() << "}\n";
  return 0;
}
