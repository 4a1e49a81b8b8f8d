#!/bin/sh
# Builds build/hello.jar from src/ with the JDK alone (javac + jar; no Maven needed).
# VERSION (default: dev) goes into the manifest's Implementation-Version.
set -eu
cd "$(dirname "$0")"
version="${VERSION:-dev}"
rm -rf build/classes && mkdir -p build/classes
javac --release 17 -d build/classes $(find src/main/java -name '*.java')
cat > build/MANIFEST.MF <<MF
Main-Class: example.hello.HelloService
Implementation-Title: hello
Implementation-Version: ${version}
MF
jar --create --file build/hello.jar --manifest build/MANIFEST.MF -C build/classes .
echo "built build/hello.jar (version ${version})"
