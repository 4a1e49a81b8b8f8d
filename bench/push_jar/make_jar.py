#!/usr/bin/env python3
"""Writes a Spring-Boot-shaped jar of about 80 MB and, beside it, the same jar with one class changed.

  make_jar.py OUT.jar OUT-v2.jar [MB]

The jar: a launcher (40 classes under org/springframework/boot/loader/), 400 application classes in
20 packages (deflated, compressible like real class files), ~300 dependency jars (STORED, as Spring
Boot stores them; their bytes are incompressible, as the deflated classes inside real jars are) of
which 5 are -SNAPSHOT, and an application.properties. Deterministic: the same arguments give the
same bytes. The second jar differs in one class (com/example/p7/C7.class).
"""
import random
import sys
import zipfile

out, out_v2 = sys.argv[1], sys.argv[2]
megabytes = int(sys.argv[3]) if len(sys.argv) > 3 else 80
LIB_SIZE = 256 * 1024
libs = max(10, (megabytes * 1024 * 1024 - 2 * 1024 * 1024) // LIB_SIZE)
MANIFEST = ("Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.launch.JarLauncher\r\n"
            "Start-Class: com.example.App\r\nSpring-Boot-Version: 3.2.0\r\n"
            "Spring-Boot-Classes: BOOT-INF/classes/\r\nSpring-Boot-Lib: BOOT-INF/lib/\r\n"
            "Implementation-Title: bench-app\r\nImplementation-Version: 1.0.0\r\n\r\n")
CLASS_HEADER = b"\xca\xfe\xba\xbe\x00\x00\x00\x3d"  # Java 17


def write(path, changed):
    rnd = random.Random(1)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", MANIFEST)
        for i in range(40):
            z.writestr("org/springframework/boot/loader/launch/C%d.class" % i,
                       CLASS_HEADER + bytes(rnd.choices(range(40), k=4000)), zipfile.ZIP_DEFLATED)
        for i in range(400):
            body = CLASS_HEADER + bytes(rnd.choices(range(40), k=3000))
            if changed and i == 7:
                body = body[:-4] + b"v2!!"
            z.writestr("BOOT-INF/classes/com/example/p%d/C%d.class" % (i % 20, i), body, zipfile.ZIP_DEFLATED)
        z.writestr("BOOT-INF/classes/application.properties", "server.port=8080\n", zipfile.ZIP_DEFLATED)
        names = ["dep%03d-%s.jar" % (i, "1.0-SNAPSHOT" if i % 60 == 0 else "1.0") for i in range(libs)]
        rnd.shuffle(names)
        for name in names:
            z.writestr("BOOT-INF/lib/" + name, rnd.randbytes(LIB_SIZE), zipfile.ZIP_STORED)


write(out, False)
write(out_v2, True)
