#!/usr/bin/env python3
"""Writes a Spring-Boot-shaped jar of about 36 MB: 3000 deflated classes in 50 packages,
150 STORED 200 KB libraries in shuffled (dependency-like) order. Usage: make_big_jar.py OUT.jar"""
import os
import random
import sys
import zipfile

random.seed(1)
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("META-INF/MANIFEST.MF",
               "Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.launch.JarLauncher\r\n"
               "Start-Class: com.example.App\r\nSpring-Boot-Version: 3.2.0\r\n\r\n")
    for i in range(40):
        z.writestr(f"org/springframework/boot/loader/C{i}.class",
                   b"\xca\xfe\xba\xbe\x00\x00\x00\x3d" + os.urandom(2000), zipfile.ZIP_DEFLATED)
    for i in range(3000):
        z.writestr(f"BOOT-INF/classes/com/example/p{i % 50}/C{i}.class",
                   b"\xca\xfe\xba\xbe\x00\x00\x00\x3d" + bytes(random.choices(range(20), k=3000)),
                   zipfile.ZIP_DEFLATED)
    libs = [f"lib{i:03d}-1.0.jar" for i in range(150)]
    random.shuffle(libs)
    for name in libs:
        z.writestr("BOOT-INF/lib/" + name, os.urandom(200000), zipfile.ZIP_STORED)
